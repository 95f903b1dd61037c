/* ctl_gc.c - the garbage-collector controller (to be written). */
#include "ctl.h"

const ctl_loop ctl_gc_loop = {"garbage-collector", NULL, NULL};
