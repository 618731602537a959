#!/usr/bin/env bash
# A private MariaDB server for the `backup create --lock` tests, on a Unix socket in a temp folder.
#
#   scripts/mariadb-test-server.sh start   # prints the socket path on stdout (last line)
#   scripts/mariadb-test-server.sh stop DIR
#
# Installs Debian's mariadb-server when mariadbd is missing (non-interactive), creates a data
# folder, starts mariadbd without networking, and creates the user the tests connect as:
# emtest / emtest (RELOAD for FLUSH TABLES WITH READ LOCK) and the database emtest with table t.
set -euo pipefail

start() {
    if ! command -v mariadbd >/dev/null && [ ! -x /usr/sbin/mariadbd ]; then
        echo "mariadb-test-server: installing mariadb-server" >&2
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq >&2
        apt-get install -y -qq mariadb-server >&2
    fi
    local mariadbd install_db client
    mariadbd=$(command -v mariadbd || echo /usr/sbin/mariadbd)
    install_db=$(command -v mariadb-install-db || command -v mysql_install_db)
    client=$(command -v mariadb || command -v mysql)
    local dir
    dir=$(mktemp -d /tmp/emrebuild-mariadb.XXXXXX)
    chmod 755 "$dir"
    local user
    user=$(id -un)
    "$install_db" --no-defaults --datadir="$dir/data" --user="$user" \
        --auth-root-authentication-method=socket >"$dir/install.log" 2>&1 ||
        { cat "$dir/install.log" >&2; exit 1; }
    "$mariadbd" --no-defaults --datadir="$dir/data" --socket="$dir/mysqld.sock" \
        --pid-file="$dir/mysqld.pid" --skip-networking --user="$user" \
        --log-error="$dir/error.log" >/dev/null 2>&1 &
    for _ in $(seq 1 60); do
        [ -S "$dir/mysqld.sock" ] && "$client" --no-defaults -S "$dir/mysqld.sock" -u root \
            -e 'SELECT 1' >/dev/null 2>&1 && break
        sleep 0.5
    done
    "$client" --no-defaults -S "$dir/mysqld.sock" -u root <<'SQL' || { cat "$dir/error.log" >&2; exit 1; }
CREATE USER IF NOT EXISTS 'emtest'@'localhost' IDENTIFIED BY 'emtest';
GRANT ALL PRIVILEGES ON *.* TO 'emtest'@'localhost';
CREATE DATABASE IF NOT EXISTS emtest;
CREATE TABLE IF NOT EXISTS emtest.t (i INT) ENGINE=InnoDB;
SQL
    echo "$dir/mysqld.sock"
}

stop() {
    local dir=$1
    if [ -f "$dir/mysqld.pid" ]; then
        kill "$(cat "$dir/mysqld.pid")" 2>/dev/null || true
        for _ in $(seq 1 40); do [ -e "$dir/mysqld.pid" ] || break; sleep 0.25; done
    fi
    rm -rf "$dir"
}

case "${1:-}" in
    start) start ;;
    stop) stop "${2:?folder}" ;;
    *) echo "usage: $0 start | stop DIR" >&2; exit 2 ;;
esac
