/* bus_int.h - what lib/bus_*.c share: the directory's scripts. */
#ifndef RV_BUS_INT_H
#define RV_BUS_INT_H

#include "bus.h"

/* The Lua script of each directory operation (bus_scripts.c). */
extern const char *const rv__bus_scripts[RV_DIR_COUNT];

#endif
