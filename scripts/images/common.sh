# Shared by the image scripts: how podman runs on these machines, and which images exist.
# Sourced, not run.

# runc, not crun ("cgroups in hybrid mode not supported"); explicit ulimits below the machine's hard
# limits, or setrlimit fails; host networking, so containers reach the host's Kafka and PostgreSQL.
PODMAN=(podman --runtime runc)
PODMAN_LIMITS=(--ulimit nofile=1024:1024 --ulimit nproc=4096:4096)
IMAGE_PREFIX=${IMAGE_PREFIX:-localhost/lrs}
IMAGE_TAG=${IMAGE_TAG:-dev}
PUBLIC_PYTHON_IMAGE=docker.io/library/python:3.11-slim-bookworm
LOCAL_PYTHON_IMAGE=localhost/lrs-base/python:3.11-bookworm

# Every workspace member that is a runnable service: the directories with a main.py.
image_services() {
  local root=$1 main
  for main in "$root"/services/*/src/*/main.py; do
    [ -e "$main" ] || continue
    main=${main#"$root"/services/}
    echo "${main%%/*}"
  done
}
