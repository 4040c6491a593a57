#!/usr/bin/env bash
# Headless Chromium for the labelling page's browser test (tests/integration/test_label_browser.py),
# from Debian's packages: Playwright's own browser download cannot be used here. The Playwright
# driver itself comes with the `playwright` pip package of the dev extra.
set -euo pipefail
if command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1; then
    exit 0
fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core
else
    echo "install-browser: chromium is missing and cannot be installed here (needs root and apt-get);" \
         "the browser test will be skipped" >&2
fi
