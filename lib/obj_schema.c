/*
 * obj_schema.c - the fields of the served kinds (core/v1 and apps/v1 as of
 * Kubernetes 1.30), as tables. Shapes are defined leaves first so each
 * table only refers to tables above it. Null values count as absent and
 * are accepted for any field. Parts kube9 does not interpret (managedFields,
 * cloud volume sources, ...) are OBJ_T_ANY.
 */
#include <string.h>

#include "obj_schema.h"

#define S(n)                                                                                       \
	{                                                                                          \
		n, OBJ_T_STR, 0, NULL                                                              \
	}
#define I(n)                                                                                       \
	{                                                                                          \
		n, OBJ_T_INT, 0, NULL                                                              \
	}
#define B(n)                                                                                       \
	{                                                                                          \
		n, OBJ_T_BOOL, 0, NULL                                                             \
	}
#define Q(n)                                                                                       \
	{                                                                                          \
		n, OBJ_T_QTY, 0, NULL                                                              \
	}
#define IOS(n)                                                                                     \
	{                                                                                          \
		n, OBJ_T_IOS, 0, NULL                                                              \
	}
#define ANY(n)                                                                                     \
	{                                                                                          \
		n, OBJ_T_ANY, 0, NULL                                                              \
	}
#define O(n, f)                                                                                    \
	{                                                                                          \
		n, OBJ_T_OBJ, 0, f                                                                 \
	}
#define AO(n, f)                                                                                   \
	{                                                                                          \
		n, OBJ_T_ARR, OBJ_T_OBJ, f                                                         \
	}
#define AS(n)                                                                                      \
	{                                                                                          \
		n, OBJ_T_ARR, OBJ_T_STR, NULL                                                      \
	}
#define AI(n)                                                                                      \
	{                                                                                          \
		n, OBJ_T_ARR, OBJ_T_INT, NULL                                                      \
	}
#define MS(n)                                                                                      \
	{                                                                                          \
		n, OBJ_T_MAP, OBJ_T_STR, NULL                                                      \
	}
#define MQ(n)                                                                                      \
	{                                                                                          \
		n, OBJ_T_MAP, OBJ_T_QTY, NULL                                                      \
	}
#define END                                                                                        \
	{                                                                                          \
		NULL, 0, 0, NULL                                                                   \
	}

/* --- shared pieces --- */
static const obj_field owner_ref[] = {
    S("apiVersion"), S("kind"), S("name"), S("uid"), B("controller"), B("blockOwnerDeletion"), END};
static const obj_field object_meta[] = {S("name"),
                                        S("generateName"),
                                        S("namespace"),
                                        S("uid"),
                                        S("resourceVersion"),
                                        S("selfLink"),
                                        I("generation"),
                                        S("creationTimestamp"),
                                        S("deletionTimestamp"),
                                        I("deletionGracePeriodSeconds"),
                                        MS("labels"),
                                        MS("annotations"),
                                        AO("ownerReferences", owner_ref),
                                        AS("finalizers"),
                                        ANY("managedFields"),
                                        END};
static const obj_field selector_req[] = {S("key"), S("operator"), AS("values"), END};
static const obj_field label_selector[] = {MS("matchLabels"), AO("matchExpressions", selector_req),
                                           END};
static const obj_field object_ref[] = {
    S("kind"),       S("namespace"),       S("name"),      S("uid"),
    S("apiVersion"), S("resourceVersion"), S("fieldPath"), END};
static const obj_field local_ref[] = {S("name"), END};
static const obj_field condition[] = {S("type"),
                                      S("status"),
                                      I("observedGeneration"),
                                      S("lastProbeTime"),
                                      S("lastHeartbeatTime"),
                                      S("lastTransitionTime"),
                                      S("lastUpdateTime"),
                                      S("reason"),
                                      S("message"),
                                      END};
static const obj_field resources[] = {MQ("limits"), MQ("requests"), AO("claims", local_ref), END};
static const obj_field node_sel_term[] = {AO("matchExpressions", selector_req),
                                          AO("matchFields", selector_req), END};
static const obj_field node_selector[] = {AO("nodeSelectorTerms", node_sel_term), END};
static const obj_field key_path[] = {S("key"), S("path"), I("mode"), END};

/* --- containers --- */
static const obj_field field_ref[] = {S("apiVersion"), S("fieldPath"), END};
static const obj_field resource_field_ref[] = {S("containerName"), S("resource"), Q("divisor"),
                                               END};
static const obj_field key_ref[] = {S("name"), S("key"), B("optional"), END};
static const obj_field env_source[] = {
    O("fieldRef", field_ref), O("resourceFieldRef", resource_field_ref),
    O("configMapKeyRef", key_ref), O("secretKeyRef", key_ref), END};
static const obj_field env_var[] = {S("name"), S("value"), O("valueFrom", env_source), END};
static const obj_field opt_ref[] = {S("name"), B("optional"), END};
static const obj_field env_from[] = {S("prefix"), O("configMapRef", opt_ref),
                                     O("secretRef", opt_ref), END};
static const obj_field container_port[] = {I("containerPort"), I("hostPort"), S("hostIP"),
                                           S("name"),          S("protocol"), END};
static const obj_field volume_mount[] = {
    S("name"),     S("mountPath"),         S("subPath"), S("subPathExpr"), S("mountPropagation"),
    B("readOnly"), S("recursiveReadOnly"), END};
static const obj_field volume_device[] = {S("name"), S("devicePath"), END};
static const obj_field exec_action[] = {AS("command"), END};
static const obj_field http_header[] = {S("name"), S("value"), END};
static const obj_field http_get[] = {
    S("path"), IOS("port"), S("host"), S("scheme"), AO("httpHeaders", http_header), END};
static const obj_field tcp_socket[] = {IOS("port"), S("host"), END};
static const obj_field grpc_action[] = {I("port"), S("service"), END};
static const obj_field sleep_action[] = {I("seconds"), END};
static const obj_field probe[] = {O("exec", exec_action),
                                  O("httpGet", http_get),
                                  O("tcpSocket", tcp_socket),
                                  O("grpc", grpc_action),
                                  I("initialDelaySeconds"),
                                  I("timeoutSeconds"),
                                  I("periodSeconds"),
                                  I("successThreshold"),
                                  I("failureThreshold"),
                                  I("terminationGracePeriodSeconds"),
                                  END};
static const obj_field handler[] = {O("exec", exec_action), O("httpGet", http_get),
                                    O("tcpSocket", tcp_socket), O("sleep", sleep_action), END};
static const obj_field lifecycle[] = {O("postStart", handler), O("preStop", handler),
                                      S("stopSignal"), END};
static const obj_field capabilities[] = {AS("add"), AS("drop"), END};
static const obj_field se_linux[] = {S("user"), S("role"), S("type"), S("level"), END};
static const obj_field windows_opts[] = {S("gmsaCredentialSpecName"), S("gmsaCredentialSpec"),
                                         S("runAsUserName"), B("hostProcess"), END};
static const obj_field profile[] = {S("type"), S("localhostProfile"), END};
static const obj_field security_context[] = {O("capabilities", capabilities),
                                             B("privileged"),
                                             O("seLinuxOptions", se_linux),
                                             O("windowsOptions", windows_opts),
                                             I("runAsUser"),
                                             I("runAsGroup"),
                                             B("runAsNonRoot"),
                                             B("readOnlyRootFilesystem"),
                                             B("allowPrivilegeEscalation"),
                                             S("procMount"),
                                             O("seccompProfile", profile),
                                             O("appArmorProfile", profile),
                                             END};
static const obj_field resize_policy[] = {S("resourceName"), S("restartPolicy"), END};
static const obj_field container[] = {S("name"),
                                      S("image"),
                                      AS("command"),
                                      AS("args"),
                                      S("workingDir"),
                                      AO("ports", container_port),
                                      AO("envFrom", env_from),
                                      AO("env", env_var),
                                      O("resources", resources),
                                      AO("resizePolicy", resize_policy),
                                      S("restartPolicy"),
                                      AO("volumeMounts", volume_mount),
                                      AO("volumeDevices", volume_device),
                                      O("livenessProbe", probe),
                                      O("readinessProbe", probe),
                                      O("startupProbe", probe),
                                      O("lifecycle", lifecycle),
                                      S("terminationMessagePath"),
                                      S("terminationMessagePolicy"),
                                      S("imagePullPolicy"),
                                      O("securityContext", security_context),
                                      B("stdin"),
                                      B("stdinOnce"),
                                      B("tty"),
                                      S("targetContainerName"),
                                      END};

/* --- volumes --- */
static const obj_field host_path[] = {S("path"), S("type"), END};
static const obj_field empty_dir[] = {S("medium"), Q("sizeLimit"), END};
static const obj_field secret_vol[] = {S("secretName"), AO("items", key_path), I("defaultMode"),
                                       B("optional"), END};
static const obj_field config_map_vol[] = {S("name"), AO("items", key_path), I("defaultMode"),
                                           B("optional"), END};
static const obj_field pvc_vol[] = {S("claimName"), B("readOnly"), END};
static const obj_field downward_file[] = {
    S("path"), O("fieldRef", field_ref), O("resourceFieldRef", resource_field_ref), I("mode"), END};
static const obj_field downward_vol[] = {AO("items", downward_file), I("defaultMode"), END};
static const obj_field projection_ref[] = {S("name"), AO("items", key_path), B("optional"), END};
static const obj_field downward_proj[] = {AO("items", downward_file), END};
static const obj_field sa_token_proj[] = {S("audience"), I("expirationSeconds"), S("path"), END};
static const obj_field projection[] = {
    O("secret", projection_ref),     O("configMap", projection_ref),
    O("downwardAPI", downward_proj), O("serviceAccountToken", sa_token_proj),
    ANY("clusterTrustBundle"),       END};
static const obj_field projected_vol[] = {AO("sources", projection), I("defaultMode"), END};
static const obj_field nfs_vol[] = {S("server"), S("path"), B("readOnly"), END};
static const obj_field csi_vol[] = {S("driver"),
                                    B("readOnly"),
                                    S("fsType"),
                                    MS("volumeAttributes"),
                                    O("nodePublishSecretRef", local_ref),
                                    END};
static const obj_field image_vol[] = {S("reference"), S("pullPolicy"), END};
/* Volume sources every volume type list shares (pod volumes and PVs). */
#define CLOUD_SOURCES                                                                              \
	ANY("iscsi"), ANY("awsElasticBlockStore"), ANY("gcePersistentDisk"), ANY("azureDisk"),     \
	    ANY("azureFile"), ANY("cephfs"), ANY("rbd"), ANY("cinder"), ANY("fc"),                 \
	    ANY("flexVolume"), ANY("flocker"), ANY("glusterfs"), ANY("portworxVolume"),            \
	    ANY("quobyte"), ANY("scaleIO"), ANY("storageos"), ANY("vsphereVolume"),                \
	    ANY("photonPersistentDisk")
static const obj_field volume[] = {S("name"),
                                   O("hostPath", host_path),
                                   O("emptyDir", empty_dir),
                                   O("secret", secret_vol),
                                   O("configMap", config_map_vol),
                                   O("persistentVolumeClaim", pvc_vol),
                                   O("projected", projected_vol),
                                   O("downwardAPI", downward_vol),
                                   O("nfs", nfs_vol),
                                   O("csi", csi_vol),
                                   O("image", image_vol),
                                   ANY("ephemeral"),
                                   ANY("gitRepo"),
                                   CLOUD_SOURCES,
                                   END};

/* --- scheduling --- */
static const obj_field preferred_term[] = {I("weight"), O("preference", node_sel_term), END};
static const obj_field node_affinity[] = {
    O("requiredDuringSchedulingIgnoredDuringExecution", node_selector),
    AO("preferredDuringSchedulingIgnoredDuringExecution", preferred_term), END};
static const obj_field pod_affinity_term[] = {O("labelSelector", label_selector),
                                              AS("namespaces"),
                                              S("topologyKey"),
                                              O("namespaceSelector", label_selector),
                                              AS("matchLabelKeys"),
                                              AS("mismatchLabelKeys"),
                                              END};
static const obj_field weighted_pod_term[] = {I("weight"), O("podAffinityTerm", pod_affinity_term),
                                              END};
static const obj_field pod_affinity[] = {
    AO("requiredDuringSchedulingIgnoredDuringExecution", pod_affinity_term),
    AO("preferredDuringSchedulingIgnoredDuringExecution", weighted_pod_term), END};
static const obj_field affinity[] = {O("nodeAffinity", node_affinity),
                                     O("podAffinity", pod_affinity),
                                     O("podAntiAffinity", pod_affinity), END};
static const obj_field toleration[] = {S("key"),    S("operator"),          S("value"),
                                       S("effect"), I("tolerationSeconds"), END};
static const obj_field spread[] = {I("maxSkew"),
                                   S("topologyKey"),
                                   S("whenUnsatisfiable"),
                                   O("labelSelector", label_selector),
                                   I("minDomains"),
                                   S("nodeAffinityPolicy"),
                                   S("nodeTaintsPolicy"),
                                   AS("matchLabelKeys"),
                                   END};
static const obj_field name_value[] = {S("name"), S("value"), END};
static const obj_field pod_security_context[] = {O("seLinuxOptions", se_linux),
                                                 O("windowsOptions", windows_opts),
                                                 I("runAsUser"),
                                                 I("runAsGroup"),
                                                 B("runAsNonRoot"),
                                                 AI("supplementalGroups"),
                                                 S("supplementalGroupsPolicy"),
                                                 I("fsGroup"),
                                                 S("fsGroupChangePolicy"),
                                                 AO("sysctls", name_value),
                                                 O("seccompProfile", profile),
                                                 O("appArmorProfile", profile),
                                                 S("seLinuxChangePolicy"),
                                                 END};
static const obj_field host_alias[] = {S("ip"), AS("hostnames"), END};
static const obj_field dns_config[] = {AS("nameservers"), AS("searches"), AO("options", name_value),
                                       END};
static const obj_field readiness_gate[] = {S("conditionType"), END};
static const obj_field pod_os[] = {S("name"), END};

static const obj_field pod_spec[] = {AO("volumes", volume),
                                     AO("initContainers", container),
                                     AO("containers", container),
                                     ANY("ephemeralContainers"),
                                     S("restartPolicy"),
                                     I("terminationGracePeriodSeconds"),
                                     I("activeDeadlineSeconds"),
                                     S("dnsPolicy"),
                                     MS("nodeSelector"),
                                     S("serviceAccountName"),
                                     S("serviceAccount"),
                                     B("automountServiceAccountToken"),
                                     S("nodeName"),
                                     B("hostNetwork"),
                                     B("hostPID"),
                                     B("hostIPC"),
                                     B("shareProcessNamespace"),
                                     O("securityContext", pod_security_context),
                                     AO("imagePullSecrets", local_ref),
                                     S("hostname"),
                                     S("subdomain"),
                                     O("affinity", affinity),
                                     S("schedulerName"),
                                     AO("tolerations", toleration),
                                     AO("hostAliases", host_alias),
                                     S("priorityClassName"),
                                     I("priority"),
                                     O("dnsConfig", dns_config),
                                     AO("readinessGates", readiness_gate),
                                     S("runtimeClassName"),
                                     B("enableServiceLinks"),
                                     S("preemptionPolicy"),
                                     MQ("overhead"),
                                     AO("topologySpreadConstraints", spread),
                                     B("setHostnameAsFQDN"),
                                     O("os", pod_os),
                                     B("hostUsers"),
                                     AO("schedulingGates", local_ref),
                                     ANY("resourceClaims"),
                                     O("resources", resources),
                                     END};

static const obj_field state_waiting[] = {S("reason"), S("message"), END};
static const obj_field state_running[] = {S("startedAt"), END};
static const obj_field state_terminated[] = {
    I("exitCode"),  I("signal"),     S("reason"),      S("message"),
    S("startedAt"), S("finishedAt"), S("containerID"), END};
static const obj_field container_state[] = {O("waiting", state_waiting),
                                            O("running", state_running),
                                            O("terminated", state_terminated), END};
static const obj_field container_status[] = {S("name"),
                                             O("state", container_state),
                                             O("lastState", container_state),
                                             B("ready"),
                                             I("restartCount"),
                                             S("image"),
                                             S("imageID"),
                                             S("containerID"),
                                             B("started"),
                                             MQ("allocatedResources"),
                                             O("resources", resources),
                                             ANY("volumeMounts"),
                                             ANY("user"),
                                             ANY("allocatedResourcesStatus"),
                                             S("stopSignal"),
                                             END};
static const obj_field ip_addr[] = {S("ip"), END};
static const obj_field pod_status[] = {S("phase"),
                                       AO("conditions", condition),
                                       S("message"),
                                       S("reason"),
                                       S("nominatedNodeName"),
                                       S("hostIP"),
                                       AO("hostIPs", ip_addr),
                                       S("podIP"),
                                       AO("podIPs", ip_addr),
                                       S("startTime"),
                                       AO("initContainerStatuses", container_status),
                                       AO("containerStatuses", container_status),
                                       AO("ephemeralContainerStatuses", container_status),
                                       S("qosClass"),
                                       S("resize"),
                                       ANY("resourceClaimStatuses"),
                                       I("observedGeneration"),
                                       END};
static const obj_field pod_template[] = {O("metadata", object_meta), O("spec", pod_spec), END};

#define TOP S("apiVersion"), S("kind"), O("metadata", object_meta)

static const obj_field pod[] = {TOP, O("spec", pod_spec), O("status", pod_status), END};

/* --- services and endpoints --- */
static const obj_field service_port[] = {
    S("name"), S("protocol"), S("appProtocol"), I("port"), IOS("targetPort"), I("nodePort"), END};
static const obj_field client_ip[] = {I("timeoutSeconds"), END};
static const obj_field affinity_config[] = {O("clientIP", client_ip), END};
static const obj_field service_spec[] = {AO("ports", service_port),
                                         MS("selector"),
                                         S("clusterIP"),
                                         AS("clusterIPs"),
                                         S("type"),
                                         AS("externalIPs"),
                                         S("sessionAffinity"),
                                         S("loadBalancerIP"),
                                         AS("loadBalancerSourceRanges"),
                                         S("externalName"),
                                         S("externalTrafficPolicy"),
                                         S("internalTrafficPolicy"),
                                         I("healthCheckNodePort"),
                                         B("publishNotReadyAddresses"),
                                         O("sessionAffinityConfig", affinity_config),
                                         AS("ipFamilies"),
                                         S("ipFamilyPolicy"),
                                         B("allocateLoadBalancerNodePorts"),
                                         S("loadBalancerClass"),
                                         S("trafficDistribution"),
                                         END};
static const obj_field port_status[] = {I("port"), S("protocol"), S("error"), END};
static const obj_field lb_ingress[] = {S("ip"), S("hostname"), S("ipMode"),
                                       AO("ports", port_status), END};
static const obj_field lb_status[] = {AO("ingress", lb_ingress), END};
static const obj_field service_status[] = {O("loadBalancer", lb_status),
                                           AO("conditions", condition), END};
static const obj_field service[] = {TOP, O("spec", service_spec), O("status", service_status), END};

static const obj_field endpoint_address[] = {S("ip"), S("hostname"), S("nodeName"),
                                             O("targetRef", object_ref), END};
static const obj_field endpoint_port[] = {S("name"), I("port"), S("protocol"), S("appProtocol"),
                                          END};
static const obj_field subset[] = {AO("addresses", endpoint_address),
                                   AO("notReadyAddresses", endpoint_address),
                                   AO("ports", endpoint_port), END};
static const obj_field endpoints[] = {TOP, AO("subsets", subset), END};

/* --- config --- */
static const obj_field secret[] = {TOP,       MS("data"),     MS("stringData"),
                                   S("type"), B("immutable"), END};
static const obj_field config_map[] = {TOP, MS("data"), MS("binaryData"), B("immutable"), END};

/* --- namespaces and nodes --- */
static const obj_field namespace_spec[] = {AS("finalizers"), END};
static const obj_field namespace_status[] = {S("phase"), AO("conditions", condition), END};
static const obj_field namespace[] = {TOP, O("spec", namespace_spec), O("status", namespace_status),
                                      END};

static const obj_field taint[] = {S("key"), S("value"), S("effect"), S("timeAdded"), END};
static const obj_field node_spec[] = {
    S("podCIDR"),        AS("podCIDRs"),      S("providerID"), B("unschedulable"),
    AO("taints", taint), ANY("configSource"), S("externalID"), END};
static const obj_field node_address[] = {S("type"), S("address"), END};
static const obj_field daemon_port[] = {I("Port"), END};
static const obj_field daemon_endpoints[] = {O("kubeletEndpoint", daemon_port), END};
static const obj_field node_info[] = {
    S("machineID"),      S("systemUUID"),       S("bootID"),
    S("kernelVersion"),  S("osImage"),          S("containerRuntimeVersion"),
    S("kubeletVersion"), S("kubeProxyVersion"), S("operatingSystem"),
    S("architecture"),   ANY("swap"),           END};
static const obj_field container_image[] = {AS("names"), I("sizeBytes"), END};
static const obj_field attached_volume[] = {S("name"), S("devicePath"), END};
static const obj_field node_status[] = {MQ("capacity"),
                                        MQ("allocatable"),
                                        S("phase"),
                                        AO("conditions", condition),
                                        AO("addresses", node_address),
                                        O("daemonEndpoints", daemon_endpoints),
                                        O("nodeInfo", node_info),
                                        AO("images", container_image),
                                        AS("volumesInUse"),
                                        AO("volumesAttached", attached_volume),
                                        ANY("config"),
                                        ANY("runtimeHandlers"),
                                        ANY("features"),
                                        MQ("usage"), /* kube9: cpu and memory in use */
                                        END};
static const obj_field node[] = {TOP, O("spec", node_spec), O("status", node_status), END};

/* --- storage --- */
static const obj_field local_vol[] = {S("path"), S("fsType"), END};
static const obj_field pv_node_affinity[] = {O("required", node_selector), END};
static const obj_field pv_spec[] = {MQ("capacity"),
                                    AS("accessModes"),
                                    O("claimRef", object_ref),
                                    S("persistentVolumeReclaimPolicy"),
                                    S("storageClassName"),
                                    AS("mountOptions"),
                                    S("volumeMode"),
                                    O("nodeAffinity", pv_node_affinity),
                                    S("volumeAttributesClassName"),
                                    O("hostPath", host_path),
                                    O("local", local_vol),
                                    O("nfs", nfs_vol),
                                    ANY("csi"),
                                    CLOUD_SOURCES,
                                    END};
static const obj_field pv_status[] = {S("phase"), S("message"), S("reason"),
                                      S("lastPhaseTransitionTime"), END};
static const obj_field persistent_volume[] = {TOP, O("spec", pv_spec), O("status", pv_status), END};
static const obj_field typed_ref[] = {S("apiGroup"), S("kind"), S("name"), S("namespace"), END};
static const obj_field pvc_spec[] = {AS("accessModes"),
                                     O("selector", label_selector),
                                     O("resources", resources),
                                     S("volumeName"),
                                     S("storageClassName"),
                                     S("volumeMode"),
                                     O("dataSource", typed_ref),
                                     O("dataSourceRef", typed_ref),
                                     S("volumeAttributesClassName"),
                                     END};
static const obj_field pvc_status[] = {S("phase"),
                                       AS("accessModes"),
                                       MQ("capacity"),
                                       AO("conditions", condition),
                                       MQ("allocatedResources"),
                                       MS("allocatedResourceStatuses"),
                                       S("currentVolumeAttributesClassName"),
                                       ANY("modifyVolumeStatus"),
                                       END};
static const obj_field pvc[] = {TOP, O("spec", pvc_spec), O("status", pvc_status), END};

/* --- events --- */
static const obj_field event_source[] = {S("component"), S("host"), END};
static const obj_field event_series[] = {I("count"), S("lastObservedTime"), END};
static const obj_field event[] = {TOP,
                                  O("involvedObject", object_ref),
                                  S("reason"),
                                  S("message"),
                                  O("source", event_source),
                                  S("firstTimestamp"),
                                  S("lastTimestamp"),
                                  I("count"),
                                  S("type"),
                                  S("eventTime"),
                                  O("series", event_series),
                                  S("action"),
                                  O("related", object_ref),
                                  S("reportingComponent"),
                                  S("reportingInstance"),
                                  END};

/* --- apps --- */
static const obj_field rolling_update[] = {IOS("maxSurge"), IOS("maxUnavailable"), END};
static const obj_field strategy[] = {S("type"), O("rollingUpdate", rolling_update), END};
static const obj_field deployment_spec[] = {I("replicas"),
                                            O("selector", label_selector),
                                            O("template", pod_template),
                                            O("strategy", strategy),
                                            I("minReadySeconds"),
                                            I("revisionHistoryLimit"),
                                            B("paused"),
                                            I("progressDeadlineSeconds"),
                                            END};
static const obj_field deployment_status[] = {I("observedGeneration"),  I("replicas"),
                                              I("updatedReplicas"),     I("readyReplicas"),
                                              I("availableReplicas"),   I("unavailableReplicas"),
                                              I("terminatingReplicas"), AO("conditions", condition),
                                              I("collisionCount"),      END};
static const obj_field deployment[] = {TOP, O("spec", deployment_spec),
                                       O("status", deployment_status), END};
static const obj_field rs_spec[] = {I("replicas"), I("minReadySeconds"),
                                    O("selector", label_selector), O("template", pod_template),
                                    END};
static const obj_field rs_status[] = {I("replicas"),
                                      I("fullyLabeledReplicas"),
                                      I("readyReplicas"),
                                      I("availableReplicas"),
                                      I("terminatingReplicas"),
                                      I("observedGeneration"),
                                      AO("conditions", condition),
                                      END};
static const obj_field replica_set[] = {TOP, O("spec", rs_spec), O("status", rs_status), END};

static const struct {
	const char *kind;
	const obj_field *fields;
} roots[] = {
    {"Namespace", namespace},
    {"Node", node},
    {"Pod", pod},
    {"Service", service},
    {"Endpoints", endpoints},
    {"Secret", secret},
    {"ConfigMap", config_map},
    {"PersistentVolume", persistent_volume},
    {"PersistentVolumeClaim", pvc},
    {"Event", event},
    {"Deployment", deployment},
    {"ReplicaSet", replica_set},
};

const obj_field *obj_schema_root(const char *kind)
{
	for (size_t i = 0; i < sizeof roots / sizeof roots[0]; i++)
		if (strcmp(roots[i].kind, kind) == 0)
			return roots[i].fields;
	return NULL;
}
