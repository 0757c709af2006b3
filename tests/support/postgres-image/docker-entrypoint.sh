#!/bin/sh
# Entrypoint of the `postgres` image built from local binaries by
# tests/support/build-postgres-image.sh. A POSIX-sh rewrite of the official image's interface
# (https://hub.docker.com/_/postgres), for what matters to a client:
#   - the command defaults to `postgres`; a command starting with `-` gets `postgres` prepended,
#     so `docker run IMAGE -c fsync=off` passes server options;
#   - started as root, it creates and chowns $PGDATA (mode 0700, also on a tmpfs) and
#     /var/run/postgresql, then runs everything PostgreSQL as the `postgres` user (uid 999);
#   - on an empty $PGDATA: requires POSTGRES_PASSWORD unless POSTGRES_HOST_AUTH_METHOD=trust,
#     runs initdb as POSTGRES_USER (default postgres) with that password, lets every host in
#     with POSTGRES_HOST_AUTH_METHOD (default: the server's password_encryption, i.e.
#     scram-sha-256), creates POSTGRES_DB (default: POSTGRES_USER), runs
#     /docker-entrypoint-initdb.d/*.sql and *.sh; POSTGRES_INITDB_ARGS, POSTGRES_INITDB_WALDIR
#     and the *_FILE variants of the variables work as in the official image;
#   - then `exec postgres ARGS`: the server is PID 1, logs to stderr, listens on all addresses
#     (listen_addresses = '*' in postgresql.conf.sample, so `-c listen_addresses=...` wins).
# Differences: POSIX sh, not bash (initdb.d *.sh files are sourced by dash; *.sql.gz and the
# like are ignored); POSTGRES_DB is created in single-user mode (the temporary socket-only
# server runs only for initdb.d files); no nss_wrapper, so `--user` must be uid 999 (postgres)
# or root; the locale is C.UTF-8 (the official image: en_US.utf8); no LLVM JIT.
# The image holds only: the server binaries (postgres, initdb, pg_ctl, pg_isready, psql), dash
# as /bin/sh, setpriv, id, mkdir, chown, chmod, cat, find and locale (initdb runs `locale -a`).
set -eu

: "${PGDATA:?PGDATA is not set}"

# file_env VAR [DEFAULT]: VAR from $VAR, or from the file named by $VAR_FILE, or DEFAULT.
file_env() {
	fe_var=$1
	fe_default=${2-}
	eval "fe_value=\${$fe_var-}; fe_file=\${${fe_var}_FILE-}"
	if [ -n "$fe_value" ] && [ -n "$fe_file" ]; then
		printf >&2 'error: both %s and %s_FILE are set (but are exclusive)\n' "$fe_var" "$fe_var"
		exit 1
	fi
	if [ -n "$fe_file" ]; then
		fe_value=$(cat "$fe_file")
	elif [ -z "$fe_value" ]; then
		fe_value=$fe_default
	fi
	export "$fe_var=$fe_value"
	unset "${fe_var}_FILE"
}

# quote_ident NAME: NAME as a double-quoted SQL identifier.
quote_ident() {
	qi_rest=$1
	qi_out=
	while :; do
		case $qi_rest in
		*'"'*)
			qi_out=$qi_out${qi_rest%%\"*}'""'
			qi_rest=${qi_rest#*\"}
			;;
		*) break ;;
		esac
	done
	printf '"%s%s"' "$qi_out" "$qi_rest"
}

verify_minimum_env() {
	if [ -z "$POSTGRES_PASSWORD" ] && [ trust != "$POSTGRES_HOST_AUTH_METHOD" ]; then
		# The official image's text, word for word (tools and people grep for it).
		cat >&2 <<'EOE'
Error: Database is uninitialized and superuser password is not specified.
       You must specify POSTGRES_PASSWORD to a non-empty value for the
       superuser. For example, "-e POSTGRES_PASSWORD=password" on "docker run".

       You may also use "POSTGRES_HOST_AUTH_METHOD=trust" to allow all
       connections without a password. This is *not* recommended.

       See PostgreSQL documentation about "trust":
       https://www.postgresql.org/docs/current/auth-trust.html
EOE
		exit 1
	fi
	if [ trust = "$POSTGRES_HOST_AUTH_METHOD" ]; then
		cat >&2 <<'EOW'
WARNING: POSTGRES_HOST_AUTH_METHOD is "trust": anyone who can reach the port can
         connect as any user, without a password (POSTGRES_PASSWORD is ignored).
EOW
	fi
}

# init_database_dir SERVER-ARGS...: initdb as POSTGRES_USER, with the password if there is one.
init_database_dir() {
	set -- --username="$POSTGRES_USER" -E UTF8 --auth-local=trust
	if [ -n "${POSTGRES_INITDB_WALDIR:-}" ]; then
		set -- "$@" --waldir="$POSTGRES_INITDB_WALDIR"
	fi
	if [ -n "$POSTGRES_PASSWORD" ]; then
		# The password travels through a pipe, never through a file or the command line.
		printf '%s\n' "$POSTGRES_PASSWORD" |
			eval 'initdb --pwfile=/dev/stdin "$@" '"$POSTGRES_INITDB_ARGS"
	else
		eval 'initdb "$@" '"$POSTGRES_INITDB_ARGS"
	fi
}

# setup_hba SERVER-ARGS...: every host may connect, with POSTGRES_HOST_AUTH_METHOD.
setup_hba() {
	if [ -z "$POSTGRES_HOST_AUTH_METHOD" ]; then
		POSTGRES_HOST_AUTH_METHOD=$(postgres -C password_encryption "$@")
	fi
	{
		printf '\n'
		if [ trust = "$POSTGRES_HOST_AUTH_METHOD" ]; then
			printf '# warning: trust is enabled for all connections\n'
		fi
		printf 'host all all all %s\n' "$POSTGRES_HOST_AUTH_METHOD"
	} >>"$PGDATA/pg_hba.conf"
}

# create_database SERVER-ARGS...: POSTGRES_DB, in single-user mode (no server, no socket,
# nothing listening: the only "ready to accept connections" line is the final server's).
create_database() {
	if [ "$POSTGRES_DB" = postgres ]; then
		return 0
	fi
	printf 'CREATE DATABASE %s;\n' "$(quote_ident "$POSTGRES_DB")" |
		postgres --single -D "$PGDATA" "$@" -c exit_on_error=on postgres >/dev/null
}

# process_init_files SERVER-ARGS...: /docker-entrypoint-initdb.d, with a temporary server on
# the unix socket only, as the official image does.
process_init_files() {
	pif_any=
	for pif_file in /docker-entrypoint-initdb.d/*; do
		if [ -e "$pif_file" ]; then pif_any=1; fi
	done
	[ -n "$pif_any" ] || return 0

	PGUSER=${PGUSER:-$POSTGRES_USER} \
		pg_ctl -D "$PGDATA" -o "-c listen_addresses='' -p ${PGPORT:-5432}" -w start
	printf '\n'
	for pif_file in /docker-entrypoint-initdb.d/*; do
		case $pif_file in
		*.sh)
			if [ -x "$pif_file" ]; then
				printf '%s: running %s\n' "$0" "$pif_file"
				"$pif_file"
			else
				printf '%s: sourcing %s\n' "$0" "$pif_file"
				# shellcheck disable=SC1090 # the user's script
				. "$pif_file"
			fi
			;;
		*.sql)
			printf '%s: running %s\n' "$0" "$pif_file"
			psql -v ON_ERROR_STOP=1 --no-psqlrc --no-password --username "$POSTGRES_USER" \
				--dbname "$POSTGRES_DB" -f "$pif_file"
			printf '\n'
			;;
		*) printf '%s: ignoring %s\n' "$0" "$pif_file" ;;
		esac
	done
	PGUSER=${PGUSER:-$POSTGRES_USER} pg_ctl -D "$PGDATA" -m fast -w stop
}

# wants_help ARGS...: the server would only print something and exit (no set-up needed).
wants_help() {
	for wh_arg; do
		case $wh_arg in
		-'?' | --help | --describe-config | -V | --version) return 0 ;;
		esac
	done
	return 1
}

case ${1-} in
-*) set -- postgres "$@" ;;
esac
server=
if [ "${1-}" = postgres ] && ! wants_help "$@"; then
	server=1
fi

if [ -n "$server" ] && [ "$(id -u)" = 0 ]; then
	mkdir -p "$PGDATA"
	# Only what is not postgres's already, as the official image does: a recursive chown of an
	# initialised cluster in an image layer would copy every file up into the container.
	find "$PGDATA" \! -user postgres -exec chown postgres:postgres '{}' +
	chmod 0700 "$PGDATA"
	mkdir -p /var/run/postgresql
	chown postgres:postgres /var/run/postgresql
	chmod 3777 /var/run/postgresql
	if [ -n "${POSTGRES_INITDB_WALDIR:-}" ]; then
		mkdir -p "$POSTGRES_INITDB_WALDIR"
		chown -R postgres:postgres "$POSTGRES_INITDB_WALDIR"
		chmod 0700 "$POSTGRES_INITDB_WALDIR"
	fi
	HOME=/var/lib/postgresql
	export HOME
	exec setpriv --reuid=postgres --regid=postgres --init-groups "$0" "$@"
fi

if [ -n "$server" ]; then
	mkdir -p "$PGDATA"
	chmod 0700 "$PGDATA" 2>/dev/null || :
	if [ ! -s "$PGDATA/PG_VERSION" ]; then
		file_env POSTGRES_PASSWORD
		file_env POSTGRES_USER postgres
		file_env POSTGRES_DB "$POSTGRES_USER"
		file_env POSTGRES_INITDB_ARGS
		POSTGRES_HOST_AUTH_METHOD=${POSTGRES_HOST_AUTH_METHOD:-}
		verify_minimum_env

		shift # the server arguments, for the set-up steps below
		init_database_dir
		setup_hba "$@"
		create_database "$@"
		process_init_files
		set -- postgres "$@"

		printf '\nPostgreSQL init process complete; ready for start up.\n\n'
	else
		printf '\nPostgreSQL Database directory appears to contain a database; Skipping initialization\n\n'
	fi
fi

exec "$@"
