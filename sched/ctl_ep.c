/* ctl_ep.c - the endpoints controller (to be written). */
#include "ctl.h"

const ctl_loop ctl_ep_loop = {"endpoints", NULL, NULL};
