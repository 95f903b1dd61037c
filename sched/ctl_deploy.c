/* ctl_deploy.c - the deployments controller (to be written). */
#include "ctl.h"

const ctl_loop ctl_deploy_loop = {"deployments", NULL, NULL};
