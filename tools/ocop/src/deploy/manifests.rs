//! The base's per-service objects and the monitoring component.

use super::*;

pub(super) fn service_manifests(service: ServiceName) -> String {
    let name = service.as_str();
    let (grpc, http) = (grpc_port(service), http_port(service));
    let public = matches!(service, ServiceName::Certification | ServiceName::Promotion);
    let mut out =
        format!("# {GENERATED}\n# The {name} service: gRPC on {grpc}, /metrics, /healthz and /livez on {http}");
    if service == ServiceName::Certification {
        out.push_str(" (and the public verify page /verify/{code})");
    }
    out.push_str(".\n");
    // The auth Secret's signing key goes only where tokens are signed: the
    // promotion service's feed followers sign their own `service` tokens.
    let auth_items = if service == ServiceName::Promotion {
        "            - key: jwks.json\n              path: jwks.json\n            - key: signing.pem\n              path: signing.pem\n"
    } else {
        "            - key: jwks.json\n              path: jwks.json\n"
    };
    let (key_mount, key_volume) = if service == ServiceName::Certification {
        (
            "            - name: certificate-key\n              mountPath: /etc/ocop/certificates\n              readOnly: true\n",
            "        # The certificate signing key: its public key checks every QR code it signed.\n        # Never lose it (deploy/RUNBOOK.md, \"Rotate keys\").\n        - name: certificate-key\n          secret:\n            secretName: ocop-certificate-key\n            defaultMode: 0440\n",
        )
    } else {
        ("", "")
    };
    let _ = write!(
        out,
        r#"apiVersion: apps/v1
kind: Deployment
metadata:
  name: {name}
  labels:
    app.kubernetes.io/name: {name}
    app.kubernetes.io/component: service
spec:
  replicas: 2
  revisionHistoryLimit: 5
  selector:
    matchLabels:
      app.kubernetes.io/name: {name}
  strategy:
    type: RollingUpdate
    rollingUpdate:
      maxSurge: 1
      maxUnavailable: 0
  template:
    metadata:
      labels:
        app.kubernetes.io/name: {name}
        app.kubernetes.io/component: service
        ocop.gov.vn/service: "true"
    spec:
      serviceAccountName: ocop
      automountServiceAccountToken: false
      # Above the preStop pause ({PRE_STOP_S} s) plus shutdown_grace_ms ({SHUTDOWN_GRACE_MS} ms).
      terminationGracePeriodSeconds: {TERMINATION_GRACE_S}
      securityContext:
        runAsNonRoot: true
        runAsUser: 10001
        runAsGroup: 10001
        fsGroup: 10001
        seccompProfile:
          type: RuntimeDefault
      topologySpreadConstraints:
        - maxSkew: 1
          topologyKey: kubernetes.io/hostname
          whenUnsatisfiable: ScheduleAnyway
          labelSelector:
            matchLabels:
              app.kubernetes.io/name: {name}
      containers:
        - name: {name}
          image: ocop
          imagePullPolicy: Always
          command: ["/usr/local/bin/{name}"]
          args: ["--config", "/etc/ocop/config/ocop.toml"]
          ports:
            - name: grpc
              containerPort: {grpc}
            - name: http
              containerPort: {http}
          env:
            # Written by CloudNativePG (components/cnpg), or by the operator for an external database.
            - name: OCOP_DATABASE__URL
              valueFrom:
                secretKeyRef:
                  name: ocop-pg-app
                  key: uri
            # Only for an external Redis: without this Secret, redis.url of ocop.toml applies.
            - name: OCOP_REDIS__URL
              valueFrom:
                secretKeyRef:
                  name: ocop-redis
                  key: url
                  optional: true
          # Migrations and reference data run before the service turns SERVING: up to 5 minutes.
          startupProbe:
            grpc:
              port: {grpc}
            periodSeconds: 2
            failureThreshold: 150
          readinessProbe:
            grpc:
              port: {grpc}
            periodSeconds: 5
            timeoutSeconds: 2
            failureThreshold: 2
          # /livez answers while the process runs, also while the database is down
          # (then /healthz and the gRPC health check say NOT_SERVING: no restart).
          livenessProbe:
            httpGet:
              path: /livez
              port: http
            periodSeconds: 10
            timeoutSeconds: 2
            failureThreshold: 3
          lifecycle:
            preStop:
              sleep:
                seconds: {PRE_STOP_S}
          resources:
            requests:
              cpu: 100m
              memory: 128Mi
            limits:
              cpu: "1"
              memory: 512Mi
          securityContext:
            allowPrivilegeEscalation: false
            readOnlyRootFilesystem: true
            capabilities:
              drop: ["ALL"]
          volumeMounts:
            - name: config
              mountPath: /etc/ocop/config
              readOnly: true
            - name: auth
              mountPath: /etc/ocop/auth
              readOnly: true
            - name: federation
              mountPath: /etc/ocop/federation
              readOnly: true
{key_mount}            - name: tmp
              mountPath: /tmp
      # Secrets are mounted as directories (no subPath), so renewed tokens and keys arrive.
      volumes:
        - name: config
          configMap:
            name: ocop-config
        - name: auth
          secret:
            secretName: ocop-auth
            defaultMode: 0440
            items:
{auth_items}        # Feed tokens: read at every reconnection; optional, so a deployment starts before they are issued.
        - name: federation
          secret:
            secretName: ocop-federation
            defaultMode: 0440
            optional: true
{key_volume}        - name: tmp
          emptyDir:
            sizeLimit: 64Mi
---
apiVersion: v1
kind: Service
metadata:
  name: {name}
  labels:
    app.kubernetes.io/name: {name}
    ocop.gov.vn/scrape: "true"
spec:
  type: ClusterIP
  selector:
    app.kubernetes.io/name: {name}
  ports:
    - name: grpc
      port: {grpc}
      targetPort: grpc
      appProtocol: kubernetes.io/h2c
    - name: http
      port: {http}
      targetPort: http
---
# Every ready pod's address, for client-side balancing of gRPC calls.
apiVersion: v1
kind: Service
metadata:
  name: {name}-pods
  labels:
    app.kubernetes.io/name: {name}
spec:
  clusterIP: None
  selector:
    app.kubernetes.io/name: {name}
  ports:
    - name: grpc
      port: {grpc}
      targetPort: grpc
      appProtocol: kubernetes.io/h2c
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: {name}
  labels:
    app.kubernetes.io/name: {name}
spec:
  maxUnavailable: 1
  selector:
    matchLabels:
      app.kubernetes.io/name: {name}
"#
    );
    if public {
        let _ = write!(
            out,
            r#"---
# Public traffic (the verify page, the catalog, the statistics) scales this service.
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  name: {name}
  labels:
    app.kubernetes.io/name: {name}
spec:
  scaleTargetRef:
    apiVersion: apps/v1
    kind: Deployment
    name: {name}
  minReplicas: 2
  maxReplicas: 6
  metrics:
    - type: Resource
      resource:
        name: cpu
        target:
          type: Utilization
          averageUtilization: 70
"#
        );
    }
    out
}

pub(super) fn service_monitors() -> String {
    let mut out =
        format!("# {GENERATED}\n# One ServiceMonitor per service: its ClusterIP Service's http port, /metrics.\n");
    for (i, service) in ServiceName::ALL.into_iter().enumerate() {
        if i > 0 {
            out.push_str("---\n");
        }
        let name = service.as_str();
        let _ = write!(
            out,
            r#"apiVersion: monitoring.coreos.com/v1
kind: ServiceMonitor
metadata:
  name: {name}
  labels:
    app.kubernetes.io/name: {name}
spec:
  selector:
    matchLabels:
      app.kubernetes.io/name: {name}
      ocop.gov.vn/scrape: "true"
  endpoints:
    - port: http
      path: /metrics
      interval: 30s
      scrapeTimeout: 10s
"#
        );
    }
    out
}

/// The PrometheusRule holding exactly the groups of the promtool-tested rule file.
pub(super) fn prometheus_rule(rules: &str) -> anyhow::Result<String> {
    let body: Vec<&str> = rules
        .lines()
        .skip_while(|l| l.starts_with('#') || l.trim().is_empty())
        .collect();
    anyhow::ensure!(
        body.first().is_some_and(|l| *l == "groups:"),
        "rules.yml must start (after its comments) with `groups:`"
    );
    let mut out = format!(
        "# {GENERATED}\n# The rules of deploy/observability/prometheus/rules.yml, tested with `promtool test rules`.\n\
         apiVersion: monitoring.coreos.com/v1\nkind: PrometheusRule\nmetadata:\n  name: ocop\n  labels:\n    app.kubernetes.io/name: ocop\nspec:\n"
    );
    for line in body {
        if line.is_empty() {
            out.push('\n');
        } else {
            let _ = writeln!(out, "  {line}");
        }
    }
    Ok(out)
}
