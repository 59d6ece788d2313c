#!/bin/sh
# The browser tests drive Debian's chromium (or $CHROMIUM). Install it with apt when it is
# missing and root or password-less sudo allows; otherwise say what to do and fail.
set -eu
CHROMIUM="${CHROMIUM:-/usr/bin/chromium}"
[ -x "$CHROMIUM" ] && exit 0
if command -v apt-get > /dev/null; then
  if [ "$(id -u)" = 0 ]; then
    SUDO=""
  elif command -v sudo > /dev/null && sudo -n true 2> /dev/null; then
    SUDO="sudo"
  else
    SUDO="none"
  fi
  if [ "$SUDO" != none ]; then
    echo "installing chromium for the browser tests (apt-get)"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium
    [ -x "$CHROMIUM" ] && exit 0
  fi
fi
echo "The browser tests need Chromium at $CHROMIUM. Install it (Debian/Ubuntu:" \
  "'sudo apt-get install chromium'), or point CNNVIZ_CHROMIUM at a Chromium binary," \
  "then run 'make test' again." >&2
exit 1
