/* ctl_rs.c - the replicasets controller (to be written). */
#include "ctl.h"

const ctl_loop ctl_rs_loop = {"replicasets", NULL, NULL};
