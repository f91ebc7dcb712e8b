"""The files `orc init` writes into a new project (this folder, minus this module), kept as plain files so
they read as what the user gets: orc.yaml, inventory/hosts.yaml, templates/README.md and a working example
in manifests/."""
