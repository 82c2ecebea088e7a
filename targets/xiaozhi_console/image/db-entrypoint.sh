#!/bin/sh
# As the mysql image does: on an empty data directory, initialise it, set the root password from
# MYSQL_ROOT_PASSWORD, create MYSQL_DATABASE and run /docker-entrypoint-initdb.d/*.sql in it (in
# name order); then run the server in the foreground on 0.0.0.0:3306.
set -eu
DATA=/var/lib/mysql
mkdir -p "$DATA" /run/mysqld && chown -R mysql:mysql "$DATA" /run/mysqld
if [ ! -d "$DATA/mysql" ]; then
  mariadb-install-db --user=mysql --datadir="$DATA" --skip-test-db >/dev/null
  mariadbd --user=mysql --datadir="$DATA" --skip-networking --socket=/run/mysqld/init.sock &
  pid=$!
  i=0; until mariadb-admin --socket=/run/mysqld/init.sock ping >/dev/null 2>&1; do
    i=$((i+1)); [ $i -lt 120 ] || { echo "mariadb did not start" >&2; exit 1; }; sleep 0.5; done
  mariadb --default-character-set=utf8mb4 --socket=/run/mysqld/init.sock <<SQL
CREATE DATABASE IF NOT EXISTS \`${MYSQL_DATABASE}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
CREATE USER IF NOT EXISTS 'root'@'%' IDENTIFIED BY '${MYSQL_ROOT_PASSWORD}';
GRANT ALL ON *.* TO 'root'@'%' WITH GRANT OPTION;
ALTER USER 'root'@'localhost' IDENTIFIED BY '${MYSQL_ROOT_PASSWORD}';
FLUSH PRIVILEGES;
SQL
  for f in /docker-entrypoint-initdb.d/*.sql; do
    [ -e "$f" ] || continue
    echo "db-entrypoint: running $(basename "$f")"
    mariadb --default-character-set=utf8mb4 --socket=/run/mysqld/init.sock -uroot -p"${MYSQL_ROOT_PASSWORD}" "${MYSQL_DATABASE}" < "$f"
  done
  mariadb-admin --socket=/run/mysqld/init.sock -uroot -p"${MYSQL_ROOT_PASSWORD}" shutdown
  wait $pid || true
fi
exec mariadbd --user=mysql --datadir="$DATA" --bind-address=0.0.0.0 --port=3306 \
  --character-set-server=utf8mb4 --collation-server=utf8mb4_unicode_ci
