/* ctl_ns.c - the namespaces controller (to be written). */
#include "ctl.h"

const ctl_loop ctl_ns_loop = {"namespaces", NULL, NULL};
