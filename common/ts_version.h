#ifndef TS_VERSION_H
#define TS_VERSION_H

#define TS_VERSION "0.1.0"
#define TS_AGENT_NAME "tramsync/" TS_VERSION

#endif
