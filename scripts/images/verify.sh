#!/usr/bin/env bash
# Smoke-test the turnout demo images for real (needs the docker daemon and
# the images from scripts/build-images.sh). Every container, volume and
# network it creates is named turnout-verify-<pid>-* and removed on exit.
#
# Usage: scripts/images/verify.sh [busybox] [mariadb] [postgres] [redis]
# Prints one line per check and "N passed, N failed" at the end; exit 1 if
# anything failed.
set -uo pipefail

P=turnout-verify-$$
NET=$P-net
WORK=$(mktemp -d /tmp/turnout-verify.XXXXXX)
CONTAINERS=()
VOLUMES=()
PASS=0
FAIL=0
STOP_LIMIT_MS=${TURNOUT_VERIFY_STOP_LIMIT_MS:-5000}

cleanup() {
    local c v
    for c in "${CONTAINERS[@]}"; do docker rm -f "$c" >/dev/null 2>&1; done
    for v in "${VOLUMES[@]}"; do docker volume rm "$v" >/dev/null 2>&1; done
    docker network rm "$NET" >/dev/null 2>&1
    rm -rf "$WORK"
}
trap cleanup EXIT

ok() { PASS=$((PASS + 1)); printf '  ok    %s\n' "$*"; }
bad() { FAIL=$((FAIL + 1)); printf '  FAIL  %s\n' "$*"; }
check() { # DESCRIPTION COMMAND...
    local d=$1; shift
    local out
    if out=$("$@" 2>&1); then ok "$d"; else bad "$d"; printf '%s\n' "$out" | tail -n 5 | sed 's/^/        /'; fi
}
expect() { # DESCRIPTION EXPECTED COMMAND...
    local d=$1 want=$2; shift 2
    local out
    out=$("$@" 2>&1)
    if [ "$out" = "$want" ]; then ok "$d"; else bad "$d (wanted '$want', got '$(printf '%s' "$out" | tail -n 3 | tr '\n' ' ')')"; fi
}
now_ms() { echo $(($(date +%s%N) / 1000000)); }
run() { # NAME ARGS... -> detached container on $NET, registered for cleanup
    local name=$P-$1; shift
    CONTAINERS+=("$name")
    docker run -d --name "$name" --network "$NET" "$@" >/dev/null
}
volume() { vol=$P-$1; VOLUMES+=("$vol"); } # sets $vol (no subshell: VOLUMES must persist)
wait_ready() { # CONTAINER [SECONDS]
    local c=$1 n=$((${2:-60} * 5))
    while [ "$n" -gt 0 ]; do
        docker exec "$c" turnout-ready >/dev/null 2>&1 && return 0
        [ "$(docker inspect -f '{{.State.Running}}' "$c" 2>/dev/null)" = true ] || { docker logs "$c" 2>&1 | tail -n 20; return 1; }
        sleep 0.2
        n=$((n - 1))
    done
    docker logs "$c" 2>&1 | tail -n 20
    return 1
}
timed_stop() { # DESCRIPTION CONTAINER
    local t0 t1
    t0=$(now_ms)
    docker stop "$2" >/dev/null
    t1=$(now_ms)
    if [ $((t1 - t0)) -lt "$STOP_LIMIT_MS" ]; then ok "$1 ($((t1 - t0)) ms)"; else bad "$1 took $((t1 - t0)) ms"; fi
}

docker network create "$NET" >/dev/null || { echo "cannot create network $NET" >&2; exit 1; }
# A password with characters that need escaping in SQL, shell, option files.
PW="S3cr'et\"pw\\x y:z"
printf '%s\n' "$PW" >"$WORK/pw"
chmod 0644 "$WORK/pw"
SECRET=(-v "$WORK/pw:/run/secrets/pw:ro")

verify_busybox() {
    echo "turnout/busybox:demo"
    run web turnout/busybox:demo httpd -f -p 8080 -h /www
    run nc turnout/busybox:demo nc -lk -p 9000
    sleep 0.5
    expect "httpd serves /www/index.html to another container (wget)" "<body><p>turnout/busybox:demo</p></body></html>" \
        docker run --rm --network "$NET" turnout/busybox:demo sh -c "wget -q -O- http://$P-web:8080/ | grep turnout/busybox"
    check "nc -lk accepts several clients" \
        docker run --rm --network "$NET" turnout/busybox:demo sh -c "for i in 1 2 3; do echo msg\$i | nc -w 1 $P-nc 9000 || exit 1; done"
    sleep 0.3
    expect "nc -lk printed all messages" "msg1 msg2 msg3" sh -c "docker logs $P-nc 2>&1 | tr '\n' ' ' | sed 's/ \$//'"
    expect "sh, sleep, /tmp" "1777" docker run --rm turnout/busybox:demo sh -c 'sleep 0.1 && stat -c %a /tmp'
    timed_stop "docker stop httpd" "$P-web"
    timed_stop "docker stop nc -lk" "$P-nc"
}

verify_mariadb() {
    echo "turnout/mariadb:demo"
    local vol; volume mariadb
    printf '[client]\nuser=root\npassword="%s"\n' "$(printf '%s' "$PW" | sed 's/\\/\\\\/g; s/"/\\"/g')" >"$WORK/my.cnf"
    chmod 0644 "$WORK/my.cnf"
    local client=(docker run --rm --network "$NET" -v "$WORK/my.cnf:/run/secrets/my.cnf:ro" --entrypoint mariadb turnout/mariadb:demo --defaults-extra-file=/run/secrets/my.cnf)

    expect "refuses to start without MARIADB_ROOT_PASSWORD_FILE" 1 sh -c 'docker run --rm turnout/mariadb:demo >/dev/null 2>&1; echo $?'
    run mariadb -v "$vol:/var/lib/mysql" "${SECRET[@]}" -e MARIADB_ROOT_PASSWORD_FILE=/run/secrets/pw -e MARIADB_DATABASE=appdb turnout/mariadb:demo
    check "first start initialises and becomes ready (turnout-ready)" wait_ready "$P-mariadb"
    expect "root@% over TCP from another container (password from option file)" "root@%" \
        "${client[@]}" -h "$P-mariadb" -N -e "CREATE TABLE appdb.t (x INT); INSERT INTO appdb.t VALUES (42); SELECT current_user()"
    check "wrong password is rejected" sh -c "! docker run --rm --network $NET --entrypoint mariadb turnout/mariadb:demo -h $P-mariadb -uroot -pwrong -e 'SELECT 1' 2>/dev/null"
    expect "root via unix socket inside the container" "root@localhost" docker exec "$P-mariadb" mariadb -N -e 'SELECT current_user()'
    check "mariadb-admin ping via socket" docker exec "$P-mariadb" mariadb-admin ping
    expect "server runs as mysql, PID 1" "mysql mariadbd" sh -c "docker exec $P-mariadb ps -o user=,comm= -p 1 | awk '{print \$1, \$2}'"
    timed_stop "docker stop" "$P-mariadb"
    docker rm "$P-mariadb" >/dev/null
    run mariadb -v "$vol:/var/lib/mysql" "${SECRET[@]}" -e MARIADB_ROOT_PASSWORD_FILE=/run/secrets/pw turnout/mariadb:demo
    check "restart on the same volume becomes ready" wait_ready "$P-mariadb"
    expect "data survived the restart" 42 docker exec "$P-mariadb" mariadb -N -e 'SELECT x FROM appdb.t'
    timed_stop "docker stop (2nd)" "$P-mariadb"
}

verify_postgres() {
    echo "turnout/postgres:demo"
    local vol; volume postgres
    printf '*:*:*:postgres:%s\n' "$(printf '%s' "$PW" | sed 's/\\/\\\\/g; s/:/\\:/g')" >"$WORK/pgpass"
    chmod 0600 "$WORK/pgpass"
    local client=(docker run --rm --network "$NET" -v "$WORK/pgpass:/run/secrets/pgpass:ro" -e PGPASSFILE=/run/secrets/pgpass --entrypoint psql turnout/postgres:demo)

    expect "refuses to start without POSTGRES_PASSWORD_FILE" 1 sh -c 'docker run --rm turnout/postgres:demo >/dev/null 2>&1; echo $?'
    run postgres -v "$vol:/var/lib/postgresql/data" "${SECRET[@]}" -e POSTGRES_PASSWORD_FILE=/run/secrets/pw -e POSTGRES_DB=appdb turnout/postgres:demo
    check "first start initialises and becomes ready (turnout-ready)" wait_ready "$P-postgres"
    expect "postgres over TCP from another container (password from PGPASSFILE)" "postgres" \
        "${client[@]}" -h "$P-postgres" -U postgres -d appdb -Atq -c "CREATE TABLE t (x int)" -c "INSERT INTO t VALUES (42)" -c "SELECT current_user"
    check "TCP without password is rejected" sh -c "! docker run --rm --network $NET --entrypoint psql turnout/postgres:demo -h $P-postgres -U postgres -w -c 'SELECT 1' 2>/dev/null"
    expect "postgres via local socket inside the container" "1" docker exec "$P-postgres" psql -U postgres -Atc 'SELECT 1'
    check "pg_isready -h 127.0.0.1" docker exec "$P-postgres" pg_isready -h 127.0.0.1 -q
    expect "server runs as postgres, PID 1" "postgres postgres" sh -c "docker exec $P-postgres ps -o user=,comm= -p 1 | awk '{print \$1, \$2}'"
    # An open client session must not delay the stop (STOPSIGNAL SIGINT).
    CONTAINERS+=("$P-pgsleep")
    docker run -d --name "$P-pgsleep" --network "$NET" -v "$WORK/pgpass:/run/secrets/pgpass:ro" -e PGPASSFILE=/run/secrets/pgpass \
        --entrypoint psql turnout/postgres:demo -h "$P-postgres" -U postgres -c 'SELECT pg_sleep(60)' >/dev/null
    sleep 1
    timed_stop "docker stop with an open client session" "$P-postgres"
    docker rm "$P-postgres" >/dev/null
    run postgres -v "$vol:/var/lib/postgresql/data" "${SECRET[@]}" -e POSTGRES_PASSWORD_FILE=/run/secrets/pw turnout/postgres:demo
    check "restart on the same volume becomes ready" wait_ready "$P-postgres"
    expect "data survived the restart" 42 docker exec "$P-postgres" psql -U postgres -d appdb -Atc 'SELECT x FROM t'
    local t0 t1
    t0=$(now_ms); docker kill -s TERM "$P-postgres" >/dev/null; docker wait "$P-postgres" >/dev/null; t1=$(now_ms)
    if [ $((t1 - t0)) -lt "$STOP_LIMIT_MS" ]; then ok "plain SIGTERM also stops it ($((t1 - t0)) ms)"; else bad "SIGTERM stop took $((t1 - t0)) ms"; fi
}

verify_redis() {
    echo "turnout/redis:demo"
    local vol; volume redis
    run redis -v "$vol:/data" "${SECRET[@]}" -e REDIS_PASSWORD_FILE=/run/secrets/pw turnout/redis:demo
    check "becomes ready (turnout-ready, AUTH from the file)" wait_ready "$P-redis"
    check "password is not on the server's argv" sh -c "! docker exec $P-redis cat /proc/1/cmdline | tr '\\0' ' ' | grep -q 'S3cr'"
    expect "unauthenticated client gets NOAUTH" "NOAUTH Authentication required." \
        docker run --rm --network "$NET" --entrypoint redis-cli turnout/redis:demo -h "$P-redis" ping
    expect "SET from another container with AUTH (REDISCLI_AUTH via turnout-redis-cli)" OK \
        docker run --rm --network "$NET" "${SECRET[@]}" -e REDIS_PASSWORD_FILE=/run/secrets/pw --entrypoint turnout-redis-cli turnout/redis:demo -h "$P-redis" SET k hello
    expect "appendonly is on" "yes" sh -c "docker exec $P-redis turnout-redis-cli CONFIG GET appendonly | tail -n 1"
    expect "server runs as redis, PID 1" "redis redis-server" sh -c "docker exec $P-redis ps -o user=,comm= -p 1 | awk '{print \$1, \$2}'"
    timed_stop "docker stop" "$P-redis"
    docker rm "$P-redis" >/dev/null
    run redis -v "$vol:/data" "${SECRET[@]}" -e REDIS_PASSWORD_FILE=/run/secrets/pw turnout/redis:demo
    check "restart on the same volume becomes ready" wait_ready "$P-redis"
    expect "data survived the restart" hello docker exec "$P-redis" turnout-redis-cli GET k
    timed_stop "docker stop (2nd)" "$P-redis"
    run redisnopw turnout/redis:demo
    check "without REDIS_PASSWORD_FILE: no auth needed" wait_ready "$P-redisnopw"
    expect "unauthenticated PING from another container" PONG \
        docker run --rm --network "$NET" --entrypoint redis-cli turnout/redis:demo -h "$P-redisnopw" ping
}

WANT=("$@")
[ "${#WANT[@]}" -gt 0 ] || WANT=(busybox mariadb postgres redis)
for w in "${WANT[@]}"; do
    case "$w" in
        busybox|mariadb|postgres|redis) "verify_$w" ;;
        *) echo "unknown image: $w" >&2; exit 2 ;;
    esac
done

echo "$PASS passed, $FAIL failed"
[ "$FAIL" -eq 0 ]
