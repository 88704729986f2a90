#include <stdio.h>
#include <string.h>

#include "common/ts_version.h"

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "--version") == 0) {
        printf("tramsyncd %s\n", TS_VERSION);
        return 0;
    }
    fprintf(stderr, "usage: tramsyncd --version\n");
    return 2;
}
