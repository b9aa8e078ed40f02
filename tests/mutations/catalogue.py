"""The mutations: each a deliberate defect that breaks one promise of the
README, and the tests that must go red when it is planted.

A mutation replaces SEARCH, which must occur exactly once in FILE, with
REPLACE. LAYER is the fastest layer that must catch it: "unit" and "lint"
mutations run in CI (tests/mutate.sh --ci, with only their unit and lint
tests); the others need the Docker engine and run in a full run. When the
code changes so that SEARCH is no longer found once, tests/mutate.sh exits
2 and tests/harness/test_mutation_run.py fails: update the entry with the code.
"""

from __future__ import annotations

from dataclasses import dataclass

CI_LAYERS = ("unit", "lint")


@dataclass(frozen=True)
class Mutation:
    name: str
    file: str
    search: str
    replace: str
    promise: str
    layer: str
    tests: tuple[str, ...]


U = "tests/unit/"
L = "tests/lint/"
E = "tests/e2e/"
R = "tests/reliability/"
I = "tests/integration/"  # noqa: E741
S = "tests/swarm/test_team_stack.py::"

MUTATIONS = (
    # --- scripts/ ---------------------------------------------------------------------
    # --- the team stack on a swarm (scripts/*swarm*) ---------------------------------------
    Mutation(
        "swarm-deploy-on-a-worker", "scripts/lib/swarm.sh",
        '"active "*) die "this Docker engine is a swarm worker', '"active "*) return 0; die "this Docker engine is a swarm worker',
        "swarm-deploy.sh refuses an engine that is not a swarm manager, changing nothing",
        "swarm", (S + "test_deploy_refuses_a_worker_node_changing_nothing",)),
    Mutation(
        "swarm-deploy-does-not-wait", "scripts/commands/swarm-deploy.sh",
        '    wait_for_swarm_stack "$stack" "$before" "$timeout"\n', "",
        "swarm-deploy.sh waits until every service is healthy and fails when the swarm rolled an update back",
        "swarm", (S + "test_a_bad_langfuse_update_is_rolled_back_while_the_other_replica_serves",)),
    Mutation(
        "swarm-deploy-keeps-old-secret-versions", "scripts/commands/swarm-deploy.sh",
        '    prune_swarm_secrets "$stack"\n', "",
        "swarm-deploy.sh removes the stack's older secret versions once no service uses them",
        "swarm", (S + "test_a_rotated_password_leaves_only_its_new_secret_once_no_service_uses_the_old",)),
    Mutation(
        "swarm-deploy-prunes-other-stacks-secrets", "scripts/lib/swarm.sh",
        "! listed=\"$(docker secret ls --format '{{.Name}}' --filter \"label=transbot.stack=$stack\")\"",
        "! listed=\"$(docker secret ls --format '{{.Name}}')\"",
        "swarm-deploy.sh never removes another stack's secrets, nor one a service still uses",
        "swarm", (S + "test_a_rotated_password_leaves_only_its_new_secret_once_no_service_uses_the_old",)),
    Mutation(
        "swarm-status-says-nothing-deployed-is-fine", "scripts/commands/swarm-status.sh",
        '[[ -n "$services" ]] || die "the stack', '[[ -n "$services" ]] || exit 0; : "the stack',
        "swarm-status.sh exits 1 when the stack is not deployed (or not healthy)",
        "swarm", (S + "test_status_says_when_the_stack_is_not_deployed",)),
    Mutation(
        "swarm-remove-deletes-without-asking", "scripts/commands/swarm-remove.sh",
        'confirm_destruction "$assume_yes" "delete this data"', 'true "$assume_yes" "delete this data"',
        "swarm-remove.sh --delete-data asks first (or needs --yes) and removes nothing when not confirmed",
        "swarm", (S + "test_delete_data_without_a_terminal_or_yes_is_refused_and_nothing_is_removed",)),
    Mutation(
        "start-does-not-wait-for-health", "scripts/commands/start.sh",
        'bring_up start "$@"', 'bring_up start --no-wait "$@"',
        "start.sh waits for health (default 300 s)",
        "unit", (U + "test_wait_for_health.py::test_start_fails_when_the_stack_does_not_become_healthy",)),
    Mutation(
        "stop-keeps-containers", "scripts/commands/stop.sh",
        "compose down --remove-orphans 2>&1", "compose stop 2>&1",
        "stop.sh: with no service also removes containers and network",
        "unit", (U + "test_logs_and_stop.py::test_stop_without_services_takes_the_stack_down",)),
    Mutation(
        "stop-leaves-orphans", "scripts/commands/stop.sh",
        "compose down --remove-orphans 2>&1", "compose down 2>&1",
        "stop.sh: with no service also removes the containers of services no longer in your configuration",
        "unit", (U + "test_override_changes.py::test_stop_removes_the_container_of_a_service_removed_from_the_override_and_names_it",)),
    Mutation(
        "stop-ok-with-leftovers", "scripts/commands/stop.sh",
        '    require_nothing_left "$left"\n', "",
        "stop.sh never says stopped while a container or the network of the stack is left",
        "unit", (U + "test_override_changes.py::test_stop_is_not_ok_while_a_container_of_no_project_holds_the_network",
                 U + "test_override_changes.py::test_stop_is_not_ok_while_a_container_is_left")),
    Mutation(
        "health-check-judges-orphans", "scripts/commands/health-check.sh",
        '        mapfile -t orphans < <(orphans_in "$listing")\n', "",
        "health-check.sh checks only the services of your configuration, naming the containers it leaves out",
        "unit", (U + "test_override_changes.py::test_health_check_leaves_out_a_removed_service_naming_it_in_one_line",)),
    Mutation(
        "restart-only-starts", "scripts/commands/restart.sh",
        'bring_up restart "$@"', 'bring_up start "$@"',
        "restart.sh stops and starts (taking changed settings)",
        "unit", (U + "test_logs_and_stop.py::test_restart_stops_then_starts_the_named_services",)),
    Mutation(
        "logs-drops-tail", "scripts/commands/logs.sh",
        '[[ -z "$tail" ]] || compose_args+=(--tail "$tail")', ': "$tail"',
        "logs.sh [--tail N]",
        "unit", (U + "test_logs_and_stop.py::test_logs_options_reach_compose",
                 U + "test_logs_and_stop.py::test_options_take_their_value_with_or_without_an_equals_sign")),
    Mutation(
        "health-check-exits-0-when-unhealthy", "scripts/commands/health-check.sh",
        '$healthy || exit "$EXIT_FAILURE"', '$healthy || exit 0',
        "health-check.sh: exit 0 only if all are healthy",
        "unit", (U + "test_logs_and_stop.py::test_health_check_reports_missing_containers_as_unhealthy_json",)),
    Mutation(
        "init-env-leaves-an-existing-file-alone", "scripts/commands/init-env.sh",
        "    _check_env_file_mode\n    # All changes", "    _check_env_file_mode\n    return 0\n    # All changes",
        "init-env.sh creates .env.infra, or fills its remaining change-me placeholders and missing variables",
        "unit", (U + "test_init_env.py::test_init_env_fills_the_placeholders_left_in_an_existing_file",
                 U + "test_init_env.py::test_init_env_appends_the_variables_an_existing_file_lacks")),
    Mutation(
        "app-env-prints-the-variables-ports", "scripts/commands/app-env.sh",
        '    ports="$(ports_in_use)"\n', '    ports=""\n',
        "app-env.sh: built from .env.infra and the ports in use",
        "unit", (U + "test_override_changes.py::test_app_env_prints_the_ports_an_override_moved_while_the_stack_is_down",
                 U + "test_override_changes.py::test_app_env_prints_the_ports_the_running_stack_publishes")),
    Mutation(
        "app-env-redis-password-not-encoded", "scripts/lib/services/redis.sh",
        "redis://default:%s@%s:%s/0\\n' \"$(urlencode \"$REDIS_PASSWORD\")\"",
        "redis://default:%s@%s:%s/0\\n' \"$REDIS_PASSWORD\"",
        "app-env.sh: passwords percent-encoded, so any character is safe",
        "unit", (U + "test_app_env_write.py::test_redis_url_names_the_default_user_and_encodes_the_password",)),
    Mutation(
        "apply-schema-does-not-pass-the-new-password", "scripts/commands/apply-schema.sh",
        'docker exec -i -e TRANSBOT_NEW_PASSWORD "$1"', 'docker exec -i "$1"',
        "apply-schema.sh applies services/postgres/ and .env.infra's passwords to an existing database",
        "unit", (U + "test_scripts_in_running_containers.py::test_apply_schema_sets_the_password_of_env_infra",
                 E + "test_secret_rotation.py::test_a_new_langfuse_db_password_works_after_apply_schema_and_restart")),
    Mutation(
        "apply-schema-does-not-check-postgres-user", "scripts/commands/apply-schema.sh",
        '    service_hook postgres require_user "$container"\n', "",
        "start.sh, restart.sh and apply-schema.sh say POSTGRES_USER in .env.infra (new) is not a role of "
        "volumes/postgres",
        "unit", (U + "test_scripts_in_running_containers.py::"
                 "test_apply_schema_names_a_postgres_user_the_database_does_not_have",
                 E + "test_secret_rotation.py::test_a_postgres_user_changed_after_initialisation_is_named_with_the_old_one")),
    Mutation(
        "app-env-serves-another-clones-stack", "scripts/commands/app-env.sh",
        "    needs env own-stack-if-engine\n", "    needs env\n",
        "Several clones: every script that touches the stack refuses another clone's stack",
        "unit", (U + "test_one_stack_per_clone.py::test_app_env_prints_and_writes_no_settings_for_another_clones_stack",)),
    Mutation(
        "app-env-write-keeps-others-readable", "scripts/commands/app-env.sh",
        "$((8#$mode & 8#700))", "$((8#$mode))",
        "app-env.sh --write: the file ends up readable by you alone (0600)",
        "unit", (U + "test_app_env_write.py::test_an_existing_file_readable_by_others_is_made_private_saying_so",)),
    Mutation(
        "backup-readable-by-others", "scripts/commands/backup.sh",
        "    umask 077\n", "    umask 022\n",
        "Backups hold your data: they are created readable only by you",
        "unit", (U + "test_scripts_in_running_containers.py::test_a_backup_is_readable_only_by_its_owner",)),
    Mutation(
        "restore-ignores-a-missing-service", "scripts/commands/restore.sh",
        '[[ -n "$expected" && -f "$backup/$file" ]] ||', '[[ -n "$expected" || ! -f "$backup/$file" ]] ||',
        "restore.sh refuses a folder that lacks the service you name, before anything is dropped",
        "unit", (U + "test_restore_refusals.py::test_a_backup_without_the_named_service_is_refused_naming_what_it_holds",
                 E + "test_restore_failures.py::test_restore_refuses_a_backup_without_the_named_service_and_changes_nothing")),
    Mutation(
        "restore-ignores-checksums", "scripts/commands/restore.sh",
        '[[ "$(sha256_of "$backup/$file")" == "$expected" ]] ||', 'true ||',
        "restore.sh refuses a folder that has a corrupt or truncated file, before anything is dropped",
        "unit", (U + "test_restore_refusals.py::test_a_file_that_does_not_match_its_sha256_is_refused",)),
    Mutation(
        "restore-database-not-in-one-transaction", "scripts/lib/services/postgres.sh",
        "pg_restore --clean --if-exists --single-transaction --exit-on-error",
        "pg_restore --clean --if-exists --exit-on-error",
        "Each database is restored in a single transaction: if it fails, that database is left as it was",
        "e2e", (E + "test_restore_failures.py::test_a_failed_database_restore_leaves_that_database_as_it_was",)),
    Mutation(
        "reset-does-not-delete", "scripts/commands/reset.sh",
        '"find $(service_field "$service" mount) -mindepth 1 -delete"',
        '"find $(service_field "$service" mount) -mindepth 1 -print"',
        "reset.sh deletes volumes/<service> after listing it with its size and asking",
        "unit", (U + "test_reset_guard.py::test_reset_with_yes_stops_the_service_and_deletes_only_its_data",
                 E + "test_reset_on_a_terminal.py::test_reset_redis_answered_yes_wipes_the_cache_and_keeps_postgres")),
    Mutation(
        "reset-follows-a-symlinked-data-folder", "scripts/commands/reset.sh",
        'require_data_folder_in_repository "$service"', ': "$service"',
        "reset.sh refuses a data folder that is a symlink or lies outside the repository",
        "unit", (U + "test_reset_guard.py::test_a_symlinked_data_folder_is_refused_and_its_target_kept",
                 E + "test_removing_data_and_clones.py::test_reset_refuses_a_symlinked_data_folder_and_its_target_keeps_its_data")),
    Mutation(
        "psql-passes-no-arguments", "scripts/commands/psql.sh",
        'open_client postgres "$@"', "open_client postgres",
        "psql.sh: every argument goes to psql",
        "unit", (U + "test_scripts_in_running_containers.py::test_psql_opens_the_transbot_database_as_its_owner",)),
    Mutation(
        "redis-cli-passes-no-arguments", "scripts/commands/redis-cli.sh",
        'open_client redis "$@"', "open_client redis",
        "redis-cli.sh: every argument goes to redis-cli",
        "unit", (U + "test_scripts_in_running_containers.py::test_redis_cli_gets_the_password_through_its_environment",)),
    Mutation(
        "psql-on-the-wrong-database", "scripts/lib/services/postgres.sh",
        'psql --username "$(setting POSTGRES_USER)" --dbname "$(setting POSTGRES_DB)" "$@"',
        'psql --username "$(setting POSTGRES_USER)" --dbname postgres "$@"',
        "psql.sh: psql on the TransBot database, no password typed",
        "unit", (U + "test_scripts_in_running_containers.py::test_psql_opens_the_transbot_database_as_its_owner",)),
    Mutation(
        "redis-cli-password-on-the-command-line", "scripts/lib/services/redis.sh",
        'exec_in_service redis REDISCLI_AUTH -- redis-cli "$@"',
        'exec_in_service redis -- redis-cli -a "$REDIS_PASSWORD" "$@"',
        "redis-cli.sh: authenticated redis-cli; the password is not in the process list",
        "unit", (U + "test_scripts_in_running_containers.py::test_redis_cli_gets_the_password_through_its_environment",)),
    # --- scripts/lib/ -----------------------------------------------------------------
    Mutation(
        "healthy-shortcut-blind-to-the-shell", "scripts/lib/model.sh",
        "if (!((name in named) || name ~ /^(COMPOSE|DOCKER|TRANSBOT)_/)) continue", "continue",
        "start.sh on a healthy stack still recreates what a variable exported in the shell changes",
        "e2e", (E + "test_healthy_stack_shortcut.py",)),
    Mutation(
        "healthy-shortcut-blind-to-the-compose-files", "scripts/lib/model.sh",
        '''}' "${files[@]}" "$FAST_OVERLAY" "${extra[@]}" 2>/dev/null''', '''}' "${extra[@]}" 2>/dev/null''',
        "start.sh on a healthy stack still recreates what an edited compose file or override changes",
        "e2e", (E + "test_healthy_stack_shortcut.py",)),
    Mutation(
        "healthy-shortcut-blind-to-the-image", "scripts/lib/model.sh",
        '''want[$2] != $3 " " $4 || $5''', '''want[$2] !~ "^" $3 || $5''',
        "start.sh on a healthy stack still recreates a service whose image name now names another image",
        "e2e", (E + "test_healthy_stack_shortcut.py",)),
    Mutation(
        # The container is checked twice (its id, its file): both go.
        "early-probe-counts-for-a-replaced-container", "scripts/lib/health.sh",
        '    [[ -n "$id" && "$id" == "$container" ]] || return 1\n    wait "$pid" || true\n'
        '    unset \'_EARLY_PROBES[$service]\'\n    read -r word _ <"$dir/.early-$service.$container" || true\n'
        '    [[ "$word" == ok ]] || return 1\n    mv -f -- "$dir/.early-$service.$container" "$dir/$service"\n',
        '    [[ -n "$id" ]] || return 1\n    wait "$pid" || true\n'
        '    unset \'_EARLY_PROBES[$service]\'\n    read -r word _ <"$dir/.early-$service.$id" || true\n'
        '    [[ "$word" == ok ]] || return 1\n    mv -f -- "$dir/.early-$service.$id" "$dir/$service"\n',
        "start.sh reports a service a client cannot use, even when an early probe passed on the container `up` replaced",
        "unit", (U + "test_early_probes.py",)),
    Mutation(
        "early-probe-failure-counts", "scripts/lib/health.sh",
        '    [[ "$word" == ok ]] || return 1\n', '',
        "a probe that failed while a service was starting is run again once it is healthy",
        "unit", (U + "test_early_probes.py",)),
    Mutation(
        "events-lose-the-start-of-a-split-line", "scripts/lib/engine.sh",
        '        _EVENTS_PARTIAL+="$line"\n', '',
        "the wait reads each engine event whole, also when it arrives in two pieces",
        "unit", (U + "test_early_probes.py",)),
    Mutation(
        "warm-start-asks-compose-again", "scripts/lib/needs.sh",
        '! use_recorded_answers || recorded=true', '! use_recorded_answers || recorded=false',
        "start.sh after stop.sh asks Compose nothing before `up`: the record answers for its version and the model",
        "e2e", (E + "test_healthy_stack_shortcut.py",)),
    Mutation(
        "lib-all-without-the-backup-library", "scripts/lib/all.sh",
        '# shellcheck source=scripts/lib/backup.sh\nsource "$_lib_dir/backup.sh"\n', "",
        "restore.sh refuses a folder that is not a backup (one error: line, exit 1)",
        "unit", (U + "test_interrupt_and_restore_arguments.py::test_a_damaged_manifest_gets_one_reason",)),
    Mutation(
        "lib-common-confirms-without-a-terminal", "scripts/lib/common.sh",
        "    [[ -t 0 ]] ||\n        usage_error", "    true ||\n        usage_error",
        "reset.sh and restore.sh: without a terminal to ask on, --yes is required (exit 2)",
        "unit", (U + "test_reset_guard.py::test_reset_without_terminal_or_yes_deletes_nothing",)),
    Mutation(
        "lib-services-any-service-name", "scripts/lib/services.sh",
        '[[ "$1" =~ ^[a-zA-Z0-9][a-zA-Z0-9_.-]*$ ]] ||', '[[ "$1" =~ ^[^-] ]] ||',
        "every script: an unknown service is a usage error (exit 2, nothing was run)",
        "unit", (U + "test_usage_errors.py::test_hostile_argument_is_refused_and_runs_nothing",)),
    Mutation(
        "lib-env-db-password-allows-colon-and-ampersand", "scripts/lib/env.sh",
        "LANGFUSE_DB_PASSWORD '^[A-Za-z0-9._~-]+$'", "LANGFUSE_DB_PASSWORD '^[A-Za-z0-9._~:&-]+$'",
        "a LANGFUSE_DB_PASSWORD that is not URL-safe is refused at start, naming it",
        "unit", (U + "test_env_file.py::test_broken_env_file_is_refused_naming_the_variable",
                 R + "test_passwords.py::test_a_langfuse_db_password_outside_url_safe_characters_is_refused")),
    Mutation(
        "lib-env-prints-the-rejected-value", "scripts/lib/env.sh",
        '[[ "${!name}" =~ $regex ]] || _problems+=("$name $why")',
        '[[ "${!name}" =~ $regex ]] || _problems+=("$name (${!name}) $why")',
        "Secrets are never printed",
        "unit", (U + "test_env_file.py::test_rejected_db_password_is_not_printed",)),
    Mutation(
        "lib-compose-logs-not-masked", "scripts/lib/compose.sh",
        'compose "$@" 2>&1 | redact_secrets || die "$failure"', 'compose "$@" 2>&1 | cat || die "$failure"',
        "logs.sh: logs, secrets masked",
        "unit", (U + "test_logs_and_stop.py::test_secrets_in_service_logs_are_masked",)),
    Mutation(
        "lib-docker-fast-path-on-an-old-engine", "scripts/lib/docker.sh",
        'if version_at_least "$api" 1.44 && version_at_least "$compose_version" 2.24; then',
        'if version_at_least "$compose_version" 2.24; then',
        "the fast path only where the engine and Compose support healthcheck.start_interval (Engine 25+, Compose 2.24+)",
        "unit", (U + "test_healthcheck_path.py::test_fast_healthchecks_exactly_where_engine_and_compose_support_them",)),
    Mutation(
        "lib-docker-permission-denied-called-daemon-down", "scripts/lib/docker.sh",
        'if [[ "$output" == *"permission denied"* ]]; then', "if false; then",
        "a Docker socket that refuses you is named, with the docker-group fix",
        "unit", (U + "test_docker_detection.py::test_socket_permission_denied_exits_1_with_the_docker_group_hint",)),
    Mutation(
        "lib-exec-puts-the-password-on-the-command-line", "scripts/lib/exec.sh",
        'flags+=(-e "$1")', 'flags+=(-e "$1=${!1}")',
        "redis-cli.sh: the password by environment, never on a command line",
        "unit", (U + "test_scripts_in_running_containers.py::test_redis_cli_gets_the_password_through_its_environment",)),
    Mutation(
        "lib-diagnose-drops-the-last-log-lines", "scripts/lib/diagnose.sh",
        'last="$(tail -n 15 <<<"$logs")"', 'last=""',
        "start.sh, when a service does not become healthy, shows its state, last probe and last log lines",
        "unit", (U + "test_override_changes.py::test_start_shows_the_last_probe_of_a_service_that_gave_up",)),
    Mutation(
        "lib-ahead-takes-the-answer-of-another-compose", "scripts/lib/ahead.sh",
        'if [[ -z "${_AHEAD_FD[$name]:-}" || "${_AHEAD_KEY[$name]}" != "$key" ]]; then',
        'if [[ -z "${_AHEAD_FD[$name]:-}" ]]; then',
        "start.sh finds Compose v2 or v1 by itself",
        "unit", (U + "test_docker_detection.py::test_compose_v1_is_used_when_the_plugin_is_missing",)),
    Mutation(
        "lib-model-remembers-the-configuration-whatever-the-files-say", "scripts/lib/model.sh",
        '(cd "$REPO_ROOT" && cat -- "${files[@]}" 2>/dev/null) || true', "true",
        "health-check.sh leaves out the containers of services gone from the configuration, and checks every container once a compose file changed",
        "unit", (U + "test_override_changes.py::test_health_check_checks_every_container_once_the_configuration_changed",)),
    Mutation(
        "lib-needs-forgets-the-lock", "scripts/lib/needs.sh",
        '[[ -z "${wanted[lock]:-}" ]] || take_stack_lock', "true",
        "commands that change the stack run one at a time: a second one waits for the first",
        "unit", (U + "test_one_stack_per_clone.py::test_two_starts_at_once_run_one_after_the_other",)),
    Mutation(
        "lib-run-names-the-command-after-the-users-link", "scripts/lib/run.sh",
        '    _command="${_self##*/}"\n', '    [ -n "$_command" ] || _command="${_self##*/}"\n',
        "a symlink of your own to a script runs that script",
        "unit", (U + "test_usage_errors.py::test_help_and_usage_errors_work_through_a_symlink",)),
    Mutation(
        "lib-lock-does-not-wait", "scripts/lib/lock.sh",
        'flock "$_LOCK_FD"\n', ': "$_LOCK_FD"\n',
        "commands that change the stack run one at a time: a second one waits for the first",
        "unit", (U + "test_one_stack_per_clone.py::test_two_starts_at_once_run_one_after_the_other",)),
    Mutation(
        "lib-stack-takes-over-another-clones-stack", "scripts/lib/stack.sh",
        '[[ ! "$folder" -ef "$REPO_ROOT" ]] || continue', "continue",
        "a stack running from another clone: every script that touches the stack refuses",
        "unit", (U + "test_one_stack_per_clone.py::test_a_stack_started_from_another_clone_is_not_touched",)),
    Mutation(
        "lib-stack-second-server-on-a-data-folder", "scripts/lib/stack.sh",
        '[[ -n "$source" && "$source" -ef "$folder" ]] || continue', "continue",
        "One data folder, one server: the scripts refuse any but this stack's own container on its data folders",
        "unit", (U + "test_one_data_folder.py::test_another_projects_server_on_the_data_folder_is_named_and_nothing_starts",
                 E + "test_one_data_folder.py::test_a_second_project_in_the_same_clone_is_refused_naming_the_running_server")),
    Mutation(
        "lib-health-misses-a-crash-loop", "scripts/lib/health.sh",
        "elif ((restarts > restarts_before[$id])); then", "elif false; then",
        "start.sh: restarted while starting: it is crashing (long before the timeout)",
        "unit", (U + "test_wait_for_health.py::test_a_container_restarting_while_it_starts_is_called_crashing_at_once",
                 R + "test_hostile_input.py::test_a_crash_looping_postgres_is_called_crashing_long_before_the_timeout")),
    Mutation(
        "lib-health-leaves-the-event-stream-running", "scripts/lib/engine.sh",
        'kill "$_EVENTS_PID" 2>/dev/null || true', ": the stream is left running",
        "start.sh waits, then returns: nothing of it keeps running",
        "e2e", (E + "test_journey.py::test_start_leaves_no_process_of_its_own_behind",
                E + "test_waits_and_interrupts.py::test_sigterm_during_the_wait_ends_every_process_of_start")),
    Mutation(
        "lib-health-waits-for-up-before-the-deadline", "scripts/lib/health.sh",
        "        if ((SECONDS - began >= timeout)); then",
        '        if [[ "$up" == ended ]] && ((SECONDS - began >= timeout)); then',
        "start.sh --timeout bounds every wait, Compose's own wait for a healthy dependency too",
        "unit", (U + "test_waits_and_signals.py::test_start_gives_up_at_its_timeout_while_compose_up_still_waits",
                 E + "test_waits_and_interrupts.py::test_start_gives_up_at_its_timeout_while_compose_waits_for_an_unhealthy_dependency")),
    Mutation(
        "lib-common-sigterm-kills-at-once", "scripts/lib/common.sh",
        "trap _on_terminate TERM\n", "",
        "SIGTERM ends start.sh and everything it started (exit 143)",
        "unit", (U + "test_waits_and_signals.py::test_sigterm_ends_start_and_everything_it_started_with_exit_143",)),
    Mutation(
        "lib-engine-takes-the-empty-last-line", "scripts/lib/engine.sh",
        "awk 'NF { last = $0 } END { print last }'", "sed -n '$p'",
        "start.sh and health-check.sh show what a failing health probe said",
        "unit", (U + "test_override_changes.py::test_health_check_shows_what_the_failing_probe_said",
                 U + "test_override_changes.py::test_start_shows_the_last_probe_of_a_service_that_gave_up")),
    Mutation(
        "lib-health-probes-the-variables-port", "scripts/lib/services/langfuse.sh",
        'port="$(published_port langfuse "$(engine_ports langfuse "$container")")"',
        'port="$(port_of langfuse)"',
        "health-check.sh probes Langfuse through the port it is published on",
        "e2e", (E + "test_override_changes.py::test_start_is_healthy_and_prints_the_ports_in_use",)),
    Mutation(
        "lib-lifecycle-summary-prints-the-variables-ports", "scripts/lib/lifecycle.sh",
        '    all_ports="$(model_ports "$model")"\n', '    all_ports=""\n',
        "start.sh prints where to connect",
        "e2e", (E + "test_override_changes.py::test_start_is_healthy_and_prints_the_ports_in_use",)),
    Mutation(
        "lib-defaults-win-over-the-settings", "scripts/lib/defaults.sh",
        "printf '%s' \"${value:-${SETTING_DEFAULTS[$1]}}\"", "printf '%s' \"${SETTING_DEFAULTS[$1]}\"",
        "the settings of .env.infra win over the defaults",
        "unit", (U + "test_scripts_in_running_containers.py::test_psql_follows_the_user_and_database_of_env_infra_not_the_defaults",)),
    Mutation(
        "lib-lifecycle-silent-about-orphans", "scripts/lib/lifecycle.sh",
        '    warn_about_orphans "$STACK_MODEL" "$STACK_LISTING"\n', "",
        "start.sh names the containers of services removed from your override, and how to remove them",
        "unit", (U + "test_override_changes.py::test_start_names_the_container_of_a_removed_service_and_leaves_it_alone",)),
    Mutation(
        "lib-lifecycle-skips-the-port-check", "scripts/lib/lifecycle.sh",
        'port_in_use "$host" "$port" || continue', "continue",
        "start.sh checks free ports before starting",
        "unit", (U + "test_port_preflight.py::test_busy_port_is_named_with_a_free_alternative_and_nothing_starts",)),
    Mutation(
        "lib-engine-reuses-an-orphans-port", "scripts/lib/engine.sh",
        "$2 == project && ($3 in wanted) { print $4 }", "$2 == project { print $4 }",
        "start.sh refuses a port the container of a service removed from your override still holds",
        "unit", (U + "test_override_changes.py::test_start_refuses_the_port_a_removed_services_container_still_holds",)),
    Mutation(
        "lib-lifecycle-skips-the-client-probes", "scripts/lib/lifecycle.sh",
        'verify_credentials "$probes" "${targets[@]}"\n    [[ -z "$record" ]]', ': "$probes"\n    [[ -z "$record" ]]',
        "start.sh notices a POSTGRES_PASSWORD changed after initialisation, naming the fix",
        "e2e", (E + "test_secret_rotation.py::test_a_postgres_password_changed_after_initialisation_fails_start_naming_the_fix",)),
    Mutation(
        "lib-backup-forgets-the-langfuse-dump", "scripts/lib/services/postgres.sh",
        "printf '%s\\n' postgres-transbot.dump postgres-langfuse.dump",
        "printf '%s\\n' postgres-transbot.dump",
        "restore.sh refuses a folder that has a corrupt or truncated file, before anything is dropped",
        "unit", (U + "test_restore_refusals.py::test_a_file_that_does_not_match_its_sha256_is_refused",)),
    Mutation(
        "lib-backup-no-files-of-any-service", "scripts/lib/backup.sh",
        '    service_has backup_files "$1" || return 0\n', "    return 0\n",
        "restore.sh refuses a folder that has a corrupt or truncated file, before anything is dropped",
        "unit", (U + "test_restore_refusals.py::test_a_file_that_does_not_match_its_sha256_is_refused",)),
    # --- .env.infra.example -------------------------------------------------------------
    Mutation(
        "example-without-the-project-name", ".env.infra.example",
        "COMPOSE_PROJECT_NAME=transbot\n", "",
        "COMPOSE_PROJECT_NAME in .env.infra names the stack for the scripts and for Compose typed by hand",
        "unit", (U + "test_init_env.py::test_an_env_file_from_before_the_project_name_gets_it_from_init_env_and_start_says_so",
                 E + "test_one_data_folder.py::test_the_readme_by_hand_command_runs_in_the_scripts_project")),
    # --- docker-compose.yml -------------------------------------------------------------
    Mutation(
        "compose-postgres-on-every-interface", "docker-compose.yml",
        '"${BIND_ADDRESS:-127.0.0.1}:${POSTGRES_PORT:-5432}:5432"', '"${BIND_ADDRESS:-0.0.0.0}:${POSTGRES_PORT:-5432}:5432"',
        "Every port is published on 127.0.0.1 only",
        "lint", (L + "test_compose_file.py::test_every_port_binds_to_loopback_by_default",)),
    Mutation(
        "compose-redis-password-optional", "docker-compose.yml",
        "REDISCLI_AUTH: ${REDIS_PASSWORD:?REDIS_PASSWORD is not set - run ./scripts/start.sh to create .env.infra}",
        "REDISCLI_AUTH: ${REDIS_PASSWORD:-}",
        "Every service needs a password",
        "lint", (L + "test_compose_file.py::test_every_secret_is_required_with_a_message",)),
    Mutation(
        "compose-appendfsync-ignored", "docker-compose.yml",
        "      - ${REDIS_APPENDFSYNC:-everysec}\n", "      - everysec\n",
        "REDIS_APPENDFSYNC=always in .env.infra loses none (the running server reports the policy set in .env.infra)",
        "lint", (L + "test_compose_file.py::test_redis_gets_its_password_from_the_environment_with_aof_on",
                 R + "test_crash_recovery.py::test_redis_fsyncs_its_aof_as_the_policy_of_env_infra_says")),
    Mutation(
        "compose-telemetry-on", "docker-compose.yml",
        'TELEMETRY_ENABLED: "false"', 'TELEMETRY_ENABLED: "true"',
        "Telemetry is off",
        "e2e", (E + "test_telemetry_off.py::test_compose_config_turns_langfuse_telemetry_off",
                E + "test_telemetry_off.py::test_the_running_langfuse_container_has_telemetry_off")),
    # --- services/ ------------------------------------------------------------------------
    Mutation(
        "overlay-redis-probed-slowly-while-starting", "services/compose/fast-healthchecks.yml",
        "  redis:\n    healthcheck:\n      start_interval: 250ms\n", "  redis:\n    healthcheck:\n",
        "fast path: Docker probes every 250 ms while a container starts and once a minute once it is healthy",
        "lint", (L + "test_compose_file.py::test_the_fast_overlay_probes_every_service_quickly_while_it_starts",)),
    Mutation(
        "redis-without-password", "services/redis/redis-server.sh",
        "user default reset on #$hash ~* &* +@all", "user default on nopass ~* &* +@all",
        "redis: password required",
        "integration", (I + "test_redis.py::test_unauthenticated_client_is_refused_with_noauth",)),
    Mutation(
        "redis-restore-failure-drops-the-old-data", "services/redis/restore-rdb.sh",
        '        find "$aside" -mindepth 1 -maxdepth 1 -exec mv {} "$data"/ \\;\n',
        '        find "$aside" -mindepth 1 -maxdepth 1 -exec rm -rf {} +\n',
        "Redis' previous data is put back if its restore fails",
        "e2e", (E + "test_restore_failures.py::test_a_failed_redis_restore_puts_the_previous_data_back",)),
    Mutation(
        "langfuse-database-keeps-the-old-password", "services/postgres/langfuse-database.sh",
        "SELECT format('ALTER ROLE langfuse LOGIN PASSWORD %L', :'pw')\n\\gexec\n", "",
        "apply-schema.sh applies .env.infra's passwords to an existing database (LANGFUSE_DB_PASSWORD)",
        "integration", (I + "test_postgres_initialisation.py::test_running_the_langfuse_script_again_only_resets_the_password",)),
    Mutation(
        "schema-allows-a-negative-cost", "services/postgres/init.sql",
        "cost_usd            numeric(12, 6) CHECK (cost_usd >= 0),", "cost_usd            numeric(12, 6),",
        "token counts, cost and latency cannot be negative",
        "integration", (I + "test_postgres_schema.py::test_invalid_translation_is_rejected",)),
    Mutation(
        "start-ignores-postgres-major-drift", "scripts/lib/services/postgres.sh",
        '[[ -n "$data_major" && "$image_major" != "$data_major" ]] || return 0',
        '[[ -n "$data_major" && "$image_major" == "$data_major" ]] || return 0',
        "start.sh refuses a PostgreSQL image of another major than volumes/postgres, before anything starts",
        "unit", (U + "test_postgres_major_drift.py::test_a_newer_major_on_old_data_is_refused_before_anything_starts",
                 E + "test_postgres_upgrade.py::test_a_new_major_set_by_hand_is_refused_with_nothing_changed")),
    Mutation(
        "upgrade-postgres-accepts-the-same-major", "scripts/commands/upgrade-postgres.sh",
        "((major > old)) ||", "((major >= old)) ||",
        "upgrade-postgres.sh refuses an image of the same (or a lower) major: exit 2, nothing changed",
        "unit", (U + "test_upgrade_postgres_usage.py::test_the_same_major_is_no_upgrade",)),
    Mutation(
        "upgrade-postgres-does-not-put-the-old-folder-back", "scripts/commands/upgrade-postgres.sh",
        'discard_folder "$REPO_ROOT/volumes/postgres" && mv -- "$UPGRADE_KEPT" "$REPO_ROOT/volumes/postgres"',
        'discard_folder "$REPO_ROOT/volumes/postgres"',
        "a failed upgrade puts back the old volumes/postgres and starts the old stack",
        "e2e", (E + "test_postgres_upgrade.py::test_a_failed_restore_leaves_the_old_stack_as_it_was_and_running",
                E + "test_postgres_upgrade.py::"
                "test_a_new_server_that_never_starts_leaves_the_old_stack_as_it_was_and_running")),
    Mutation(
        "upgrade-postgres-ctrl-c-says-nothing-was-done", "scripts/commands/upgrade-postgres.sh",
        "    SIGNAL_EXPLAINED=true", "    SIGNAL_EXPLAINED=false",
        "Ctrl-C during upgrade-postgres.sh: exit 130 and one line saying the old stack runs again",
        "e2e", (E + "test_postgres_upgrade.py::"
                "test_ctrl_c_once_the_old_folder_is_aside_puts_the_old_stack_back_and_says_so",)),
    Mutation(
        "upgrade-postgres-revert-keeps-the-new-image", "scripts/commands/upgrade-postgres.sh",
        'write_image_setting "$image"\n    export POSTGRES_IMAGE="$image"', 'export POSTGRES_IMAGE="$image"',
        "upgrade-postgres.sh --revert puts back the old folder and its POSTGRES_IMAGE",
        "e2e", (E + "test_postgres_upgrade.py::"
                "test_revert_after_an_upgrade_puts_the_15_folder_and_image_back_and_keeps_the_17_one",)),
    Mutation(
        "upgrade-postgres-discards-without-asking", "scripts/commands/upgrade-postgres.sh",
        'confirm_destruction "$assume_yes" "delete this data" "nothing was deleted"', ":",
        "upgrade-postgres.sh --discard-old deletes only when confirmed (--yes without a terminal)",
        "e2e", (E + "test_postgres_upgrade.py::test_discard_old_deletes_only_the_kept_folder_and_only_when_confirmed",)),
    Mutation(
        "upgrade-postgres-ignores-the-free-space", "scripts/commands/upgrade-postgres.sh",
        "((free_kb >= 2 * data_kb)) ||", "((free_kb >= 0)) ||",
        "upgrade-postgres.sh refuses when the disk cannot hold a new data folder and a backup, nothing changed",
        "e2e", (E + "test_postgres_upgrade.py::test_too_little_free_disk_space_is_refused_with_nothing_changed",)),
    Mutation(
        "update-images-accepts-any-service", "scripts/commands/update-images.sh",
        'is_builtin "$name" ||\n', 'true ||\n',
        "update-images.sh refuses a name that is not a built-in service: exit 2, nothing pulled or recreated",
        "unit", (U + "test_update_images_usage.py::test_a_service_that_is_not_built_in_is_a_usage_error",)),
    Mutation(
        "update-images-keeps-the-failed-image", "scripts/commands/update-images.sh",
        'put_back_tag "${UPDATE_REF[$service]}" "${UPDATE_OLD_ID[$service]}"', ":",
        "a new image that fails its health check is replaced by the previous one, which runs again",
        "e2e", (E + "test_image_updates.py::test_a_new_image_that_never_turns_healthy_is_replaced_by_the_previous_one",)),
    Mutation(
        "update-images-crosses-majors", "scripts/commands/update-images.sh",
        '[[ "$old" != "$new" ]] || continue', "continue",
        "update-images.sh refuses an image of another major under the tag, nothing recreated",
        "e2e", (E + "test_image_updates.py::"
                "test_an_image_of_another_major_under_the_tag_is_refused_with_nothing_recreated",)),
    Mutation(
        "update-images-ctrl-c-says-nothing-was-done", "scripts/commands/update-images.sh",
        "    SIGNAL_EXPLAINED=true", "    SIGNAL_EXPLAINED=false",
        "Ctrl-C during update-images.sh: exit 130 and one line saying the previous images run again",
        "e2e", (E + "test_image_updates.py::"
                "test_ctrl_c_while_waiting_for_the_new_image_puts_the_previous_one_back_and_says_so",)),
)
