#!/bin/sh
# Start a test board: new host keys (a new container, or a restarted one, has a new identity),
# the client's public key from KENNING_AUTHORIZED_KEY, then sshd in the foreground.
# Prints `hostkey: <type> <base64>` so that a test can write known_hosts from `docker logs`.
set -eu
rm -f /etc/ssh/ssh_host_*
ssh-keygen -A >/dev/null
home=/home/kenning
if [ -n "${KENNING_AUTHORIZED_KEY:-}" ]; then
    install -d -m 700 -o kenning -g kenning "$home/.ssh"
    printf '%s\n' "$KENNING_AUTHORIZED_KEY" >"$home/.ssh/authorized_keys"
    chown kenning:kenning "$home/.ssh/authorized_keys"
    chmod 600 "$home/.ssh/authorized_keys"
else
    echo "warning: KENNING_AUTHORIZED_KEY is not set: nobody can log in" >&2
fi
unset KENNING_AUTHORIZED_KEY
echo "hostkey: $(cut -d ' ' -f 1,2 /etc/ssh/ssh_host_ed25519_key.pub)"
mkdir -p /run/sshd
exec /usr/sbin/sshd -D -e
