#!/bin/sh
# Adds "listen [::]:80" to the untouched default server when the container has IPv6, as the
# official image does; a default.conf the user changed is left alone.
set -e
conf=/etc/nginx/conf.d/default.conf
[ -f /proc/net/if_inet6 ] || { echo "$0: info: IPv6 is not available"; exit 0; }
[ -w "$conf" ] || { echo "$0: info: $conf is not writable"; exit 0; }
grep -q 'listen  *80;' "$conf" || exit 0
grep -q 'listen  *\[::\]:80;' "$conf" && exit 0
if ! cmp -s "$conf" /usr/local/share/standin/default.conf 2>/dev/null; then
    echo "$0: info: $conf differs from the image's default, leaving it as is"
    exit 0
fi
sed -i -E 's,listen       80;,listen       80;\n    listen  [::]:80;,' "$conf"
echo "$0: info: enabled listen on IPv6 in $conf"
