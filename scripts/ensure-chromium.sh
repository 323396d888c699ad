#!/usr/bin/env bash
# Make sure Debian's Chromium is installed for the browser tests (tests/web/browser).
# Playwright's own browser download does not work here: the tests drive /usr/bin/chromium.
# Installs the `chromium` package with apt when missing and we are root. Where it cannot be
# installed: fails when MUSTER_REQUIRE_BROWSER=1 (CI), otherwise says loudly that the browser
# tests will be skipped.
set -u
found() { command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1; }

if ! found && [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "ensure-chromium: installing Debian's chromium with apt-get"
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -qq chromium >/dev/null 2>&1 || \
    { apt-get update -qq && apt-get install -y -qq chromium >/dev/null; } || true
fi

if found; then
  echo "ensure-chromium: $(command -v chromium || command -v chromium-browser)"
  exit 0
fi

if [ "${MUSTER_REQUIRE_BROWSER:-0}" = "1" ]; then
  echo "ensure-chromium: Chromium is required (MUSTER_REQUIRE_BROWSER=1) but not installed" >&2
  exit 1
fi
cat >&2 <<'MSG'
################################################################################
##  WARNING: no chromium. The browser tests (tests/web/browser) will be        ##
##  SKIPPED. Install it with: apt-get install chromium                         ##
################################################################################
MSG
exit 0
