/*
 * node_http.h - the node agent's HTTP endpoint (kubelet's port): container
 * logs, resource usage in Prometheus text and JSON, health. Internal to node/.
 */
#ifndef KUBE9_NODE_HTTP_H
#define KUBE9_NODE_HTTP_H

#include "node.h"

/* Serve on a->address:a->port from a->state_dir. 0, or -1 (logged). */
int node_http_start(node_agent *a);
/* Stop serving (the open connections are closed). */
void node_http_stop(void);

#endif
