/* ctl_nodelife.c - the node-lifecycle controller (to be written). */
#include "ctl.h"

const ctl_loop ctl_nodelife_loop = {"node-lifecycle", NULL, NULL};
