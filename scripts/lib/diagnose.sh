# shellcheck shell=bash
# What a person is told when containers are not as they should be: the
# diagnostics of a service that is not healthy (its state, last probe and
# log lines, secrets masked), and the containers of services gone from the
# configuration with how to remove them. Loaded after engine.sh (what it
# shows comes from the engine) and env.sh (redact_secrets). Sourced, never
# run.

# What a person needs when a service is not healthy: its state, its last
# health probe and its last log lines, plus the command to see more.
show_diagnostics() {
    local service="$1" container logs last errors
    container="$(container_of "$service")"
    printf '\n--- %s ---\n' "$service" >&2
    if [[ -z "$container" ]]; then
        printf 'no container (it was never created, or was removed)\n' >&2
        return 0
    fi
    printf 'state:        %s\n' "$(container_status "$container")" >&2
    printf 'last probe:   %s\n' "$(last_health_output "$container" | redact_secrets)" >&2
    logs="$(docker logs --tail 200 "$container" 2>&1 | redact_secrets)"
    last="$(tail -n 15 <<<"$logs")"
    printf 'last log lines:\n' >&2
    printf '    %s\n' "${last//$'\n'/$'\n'    }" >&2
    # A crash-looping container's last lines are often its next attempt,
    # still starting: the reason it failed is further up.
    errors="$(grep -E 'ERROR|FATAL|PANIC|[Ee]rror:|No space left' <<<"$logs" | tail -n 3 || true)"
    if [[ -n "$errors" && "$last" != *"$errors"* ]]; then
        printf 'last errors in its log:\n' >&2
        printf '    %s\n' "${errors//$'\n'/$'\n'    }" >&2
    fi
    # What a service's own code knows about a line of its log.
    ! service_has log_hint "$service" || service_hook "$service" log_hint "$logs" >&2 || true
    printf 'more: ./scripts/logs.sh %s --tail 200\n' "$service" >&2
}

# "mailer (transbot-mailer-1), ...; remove ..." for the containers of
# ORPHANS, services no longer in the configuration. Removing a container
# keeps its volumes and bind-mounted data.
# Usage: orphans_and_how_to_remove_them ORPHAN...
orphans_and_how_to_remove_them() {
    local named
    named="$(container_names "$@")"
    printf '%s; remove them with ./scripts/stop.sh (the whole stack; data is kept), or alone: docker rm -f %s' \
        "$(awk '{ printf "%s%s (%s)", sep, $1, $2; sep = ", " }' <<<"$named")" \
        "$(awk '{ printf "%s%s", sep, $2; sep = " " }' <<<"$named")"
}
