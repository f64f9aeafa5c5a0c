# Shared by the image scripts: how podman runs on these machines, and which images exist.
# Sourced, not run.

# runc, not crun ("cgroups in hybrid mode not supported"); explicit ulimits below the machine's hard
# limits, or setrlimit fails; host networking, so containers reach the host's Kafka and PostgreSQL.
PODMAN=(podman --runtime runc)
PODMAN_LIMITS=(--ulimit nofile=1024:1024 --ulimit nproc=4096:4096)
IMAGE_PREFIX=${IMAGE_PREFIX:-localhost/lrs}
IMAGE_TAG=${IMAGE_TAG:-dev}
PUBLIC_PYTHON_IMAGE=docker.io/library/python:3.11-slim-bookworm
LOCAL_PYTHON_IMAGE=localhost/lrs-base/python:3.11-bookworm-3  # -2: apt's caches left out; -3: security updates

# Every workspace member that is a runnable service: the directories with a main.py.
image_services() {
  local root=$1 main
  for main in "$root"/services/*/src/*/main.py; do
    [ -e "$main" ] || continue
    main=${main#"$root"/services/}
    echo "${main%%/*}"
  done
}

# Everything an image is built from (what services/Dockerfile copies, less what .dockerignore leaves out).
IMAGE_SOURCES=(pyproject.toml uv.lock contracts libs tools services ':!:**/tests/**' ':!:**/__pycache__/**')

# A digest of IMAGE_SOURCES: images labelled with it are known to hold exactly this tree's code.
source_digest() {
  local root=$1
  (cd "$root" && git ls-files -co --exclude-standard -- "${IMAGE_SOURCES[@]}" \
    | LC_ALL=C sort -u | while read -r file; do [ -f "$file" ] && echo "$file"; done \
    | xargs -d '\n' sha256sum | sha256sum | cut -c1-16)
}

# The commit an image is built from, for its org.opencontainers.image.revision label: with "-dirty" after it
# when IMAGE_SOURCES hold changes not committed (changed, staged or new files), as the image then holds them too.
image_revision() {
  local root=$1 revision
  revision=$(git -C "$root" rev-parse --short HEAD 2>/dev/null) || { echo unknown; return; }
  if [ -n "$(cd "$root" && git status --porcelain --untracked-files=all -- "${IMAGE_SOURCES[@]}")" ]; then
    revision+=-dirty
  fi
  echo "$revision"
}
