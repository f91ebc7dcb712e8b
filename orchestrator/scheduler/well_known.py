"""Well-known topology label keys (Kubernetes' own, and orc's rack), apart from the scheduler's types so
that reading orc.yaml's `scheduler:` settings does not create them."""

HOSTNAME_LABEL = "kubernetes.io/hostname"
ZONE_LABEL = "topology.kubernetes.io/zone"
RACK_LABEL = "rack"
