# shellcheck shell=bash
# Asking the engine about this project: its containers (found by Compose's
# labels, the same for v1 and v2, without running Compose), their states,
# health probes, mounts, ports and networks, and the engine's events. Loaded
# after docker.sh (project_name), before compose.sh, whose Compose v1
# workaround finds a service's container here. Sourced, never run.

# The id of SERVICE's container in this project (empty if none), straight from
# the engine by Compose's labels: the same for v1 and v2, and fast.
container_of() {
    docker ps -aq \
        --filter "label=com.docker.compose.project=$(project_name)" \
        --filter "label=com.docker.compose.service=$1" | awk 'NR == 1'
}

# This project's containers, newest first, one a line: "ID SERVICE FOLDER",
# FOLDER being where Compose was run (it may hold spaces). The functions
# below take this listing as an argument, so a command asks for it once.
project_containers() {
    docker ps -a --filter "label=com.docker.compose.project=$(project_name)" \
        --format '{{.ID}} {{.Label "com.docker.compose.service"}} {{.Label "com.docker.compose.project.working_dir"}}'
}

# This project's containers as Compose's own comparison needs them, one a
# line, fields separated by the unit separator \x1f: ID, SERVICE, the
# configuration hash Compose labelled it with, IMAGE (the reference it was
# created from; the engine shows the image's ID instead once that
# reference names another image, e.g. after a pull or a retag), STATE,
# STATUS ("Up 2 minutes (healthy)"), ONEOFF ("False" for a service's own
# container), FOLDER (where Compose was run) and PORTS (as running_containers
# has them). Newest first. One `docker ps`: no inspect.
project_containers_in_detail() {
    local us='{{"\x1f"}}'
    docker ps -a --filter "label=com.docker.compose.project=$(project_name)" --format \
        "{{.ID}}$us{{.Label \"com.docker.compose.service\"}}$us{{.Label \"com.docker.compose.config-hash\"}}$us{{.Image}}$us{{.State}}$us{{.Status}}$us{{.Label \"com.docker.compose.oneoff\"}}$us{{.Label \"com.docker.compose.project.working_dir\"}}$us{{.Ports}}"
}

# "SERVICE ID STATE HEALTH" for each service's newest container in DETAIL
# (project_containers_in_detail): HEALTH is healthy, starting, unhealthy,
# or none for a container without a healthcheck (or not running), as
# container_states says it, read from the engine's STATUS words.
# Usage: detail_states DETAIL
detail_states() {
    awk -F $'\x1f' '
        NF == 0 || $2 == "" || seen[$2]++ { next }
        {
            health = "none"
            if ($5 == "running" && $6 ~ /\(healthy\)$/) health = "healthy"
            else if ($5 == "running" && $6 ~ /\(health: starting\)$/) health = "starting"
            else if ($5 == "running" && $6 ~ /\(unhealthy\)$/) health = "unhealthy"
            print $2, $1, $5, health
        }' <<<"$1"
}

# The same containers as a project_containers listing ("ID SERVICE FOLDER").
# Usage: listing_of_detail DETAIL
listing_of_detail() {
    awk -F $'\x1f' 'NF { print $1, $2, $8 }' <<<"$1"
}

# Every running container of the engine, whatever its project, one a line:
# "ID<US>PROJECT<US>SERVICE<US>PORTS", <US> being the unit separator \x1f
# (PROJECT and SERVICE are empty for a container Compose did not start, and
# PORTS holds spaces). A start asks once and both its data-folder and its
# port checks read it, from the engine's listing start.sh asked ahead.
running_containers() {
    local listing
    listing="$(answer engine-containers docker engine_containers)" ||
        die "could not list the engine's running containers (docker ps failed, see above); check Docker, then run ./scripts/$SCRIPT_NAME again"
    awk -F $'\x1f' -v OFS=$'\x1f' '$6 == "running" { print $1, $2, $3, $10 }' <<<"$listing"
}

# Every container of the engine, whatever its project or state, one a line:
# ID, PROJECT, then the fields of project_containers_in_detail after its ID
# (separated by \x1f). One `docker ps` answers both start.sh's look at its
# own stack (project_detail_in) and its checks of the others
# (running_containers): each `docker` costs ~20 ms of CPU here.
engine_containers() {
    local us='{{"\x1f"}}'
    docker ps -a --format \
        "{{.ID}}$us{{.Label \"com.docker.compose.project\"}}$us{{.Label \"com.docker.compose.service\"}}$us{{.Label \"com.docker.compose.config-hash\"}}$us{{.Image}}$us{{.State}}$us{{.Status}}$us{{.Label \"com.docker.compose.oneoff\"}}$us{{.Label \"com.docker.compose.project.working_dir\"}}$us{{.Ports}}"
}

# This project's containers of an engine_containers LISTING, as
# project_containers_in_detail lists them.
# Usage: project_detail_in LISTING
project_detail_in() {
    awk -F $'\x1f' -v OFS=$'\x1f' -v project="$(project_name)" '
        $2 == project { print $1, $3, $4, $5, $6, $7, $8, $9, $10 }' <<<"$1"
}

# The IDs of a running_containers listing, one a line.
# Usage: running_ids RUNNING
running_ids() {
    [[ -z "$1" ]] || cut -d $'\x1f' -f1 <<<"$1"
}

# The published ports of this project's containers of SERVICES (one a
# line) in a running_containers listing, e.g. "127.0.0.1:5432->5432/tcp",
# one container a line. A container of a service no longer in the
# configuration (an orphan) is left out: `up` leaves it running, so its
# port stays taken.
# Usage: project_ports RUNNING SERVICES
project_ports() {
    awk -F $'\x1f' -v project="$(project_name)" -v services="$2" '
        BEGIN { n = split(services, name, "\n"); for (i = 1; i <= n; i++) wanted[name[i]] = 1 }
        $2 == project && ($3 in wanted) { print $4 }' <<<"$1"
}

# What each of the containers IDS mounts, one mount a line:
# "NAME<US>PROJECT<US>SERVICE<US>FOLDER<US>SOURCE": the container's name, its
# Compose project and service (empty if Compose did not start it), the
# folder Compose was run from, and the host path mounted. One call for all.
# Usage: container_mounts ID...
container_mounts() {
    local template='{{range .Mounts}}{{$.Name}}{{"\x1f"}}'
    template+='{{index $.Config.Labels "com.docker.compose.project"}}{{"\x1f"}}'
    template+='{{index $.Config.Labels "com.docker.compose.service"}}{{"\x1f"}}'
    template+='{{index $.Config.Labels "com.docker.compose.project.working_dir"}}{{"\x1f"}}'
    template+='{{.Source}}{{"\n"}}{{end}}'
    (($# > 0)) || return 0
    # A container that stopped since the listing is just not there.
    docker inspect --format "$template" "$@" 2>/dev/null || true
}

# The container IDs of a project_containers listing, one a line.
# Usage: container_ids CONTAINERS
container_ids() {
    awk 'NF { print $1 }' <<<"$1"
}

# "SERVICE ID STATE HEALTH RESTARTS PROBES HEALTHCHECK" for each of the
# containers IDS, e.g. "redis 3f2a... running healthy 0 2 {"Test":...}",
# in one call, in the order given. PROBES is how many health probes the
# engine has logged (0 before the first one ends); HEALTHCHECK is the
# container's healthcheck as JSON ("null": none), to the end of the line:
# older engines lack some of its keys, which a template cannot name. A
# container removed meanwhile is just not listed (the engine prints an
# empty line for it).
# Usage: container_states ID...
container_states() {
    (($# > 0)) || return 0
    docker inspect --format \
        '{{index .Config.Labels "com.docker.compose.service"}} {{.ID}} {{.State.Status}} {{if .State.Health}}{{.State.Health.Status}} {{.RestartCount}} {{len .State.Health.Log}}{{else}}none {{.RestartCount}} 0{{end}} {{json .Config.Healthcheck}}' \
        "$@" 2>/dev/null | awk 'NF' || true
}

# The services that have a container in the listing CONTAINERS, one a line.
# Usage: project_services CONTAINERS
project_services() {
    awk 'NF >= 2 && !seen[$2]++ { print $2 }' <<<"$1"
}

# Follows the engine's events for this project's containers that change
# what a wait sees: a start, a death, a restart, a health status. From two
# seconds ago, so an event between this call and the engine's first answer
# is not lost (a clock a little off costs a spare look, no more). Sets
# FD_VAR to the stream to read; stop_following_events ends it, and so does
# the script's exit, however it exits (a `docker events` left behind would
# run forever).
# Usage: follow_project_events FD_VAR
_EVENTS_PID=""
follow_project_events() {
    local -n _events_fd="$1"
    local since
    printf -v since '%(%s)T' -1
    # A new stream: no piece of a line is left from an earlier one.
    _EVENTS_PARTIAL=""
    exec {_events_fd}< <(exec docker events --since "$((since - 2))" \
        --format '{{.Actor.ID}} {{index .Actor.Attributes "com.docker.compose.service"}} {{.Action}}' \
        --filter type=container --filter "label=com.docker.compose.project=$(project_name)" \
        --filter event=start --filter event=die --filter event=restart --filter event=health_status 2>/dev/null)
    _EVENTS_PID="$!"
    at_exit stop_following_events
}

stop_following_events() {
    [[ -n "$_EVENTS_PID" ]] || return 0
    kill "$_EVENTS_PID" 2>/dev/null || true
    _EVENTS_PID=""
}

# Waits until the stream FD has an event, at most SECONDS, then takes every
# event already there too: one look answers them all. _NEXT_EVENTS holds
# them ("CONTAINER SERVICE ACTION" lines, e.g. "3f2a... postgres
# health_status: healthy"); none when the time ran out. Returns 1 when the
# stream has ended (the engine went away, or cannot stream events).
# Usage: next_events FD SECONDS
_NEXT_EVENTS=()
_EVENTS_PARTIAL=""
next_events() {
    local fd="$1" seconds="$2" status=0 line=""
    _NEXT_EVENTS=()
    IFS= read -r -t "$seconds" -u "$fd" line || status=$?
    if ((status > 128)); then
        # The time ran out in the middle of a line (read keeps what it
        # got): the rest of it comes with the next read.
        _EVENTS_PARTIAL+="$line"
        return 0
    fi
    ((status == 0)) || return 1
    _NEXT_EVENTS+=("$_EVENTS_PARTIAL$line")
    _EVENTS_PARTIAL=""
    while read -r -t 0 -u "$fd" && IFS= read -r -u "$fd" line; do _NEXT_EVENTS+=("$line"); done
}

# "STATE HEALTH" of a container, e.g. "running healthy", "exited none".
container_status() {
    docker inspect --format \
        '{{.State.Status}} {{if .State.Health}}{{.State.Health.Status}}{{else}}none{{end}}' "$1" 2>/dev/null ||
        printf 'missing none'
}

# The output of the container's most recent health probe, on one line.
last_health_output() {
    # %q puts each probe's output on one line; the last one is the newest.
    # docker ends the template's output with a newline of its own, so the
    # last line is an empty one: take the last that is not.
    docker inspect --format \
        '{{if .State.Health}}{{range .State.Health.Log}}{{printf "%q" .Output}}{{"\n"}}{{end}}{{end}}' \
        "$1" 2>/dev/null | awk 'NF { last = $0 } END { print last }' |
        sed 's/^"//; s/"$//; s/\\n/ /g' | cut -c1-300
}

# "SERVICE HOST_IP PUBLISHED TARGET" for each TCP port the engine publishes
# for SERVICE's running CONTAINER (the lines of model_ports, as they are
# now). A stopped container publishes none.
# Usage: engine_ports SERVICE CONTAINER
engine_ports() {
    _listed_ports "$@" && return 0
    # e.g. "3000/tcp -> 127.0.0.1:41300" and "3000/tcp -> [::]:41300"
    docker port "$2" 2>/dev/null | awk -v service="$1" '
        $1 ~ /\/tcp$/ && $2 == "->" {
            target = $1; sub(/\/.*/, "", target)
            port = $3; sub(/.*:/, "", port)
            host = substr($3, 1, length($3) - length(port) - 1); gsub(/[][]/, "", host)
            print service, host, port, target
        }' || true
}

# The PORTS of a project_containers_in_detail listing by container ID (its
# first 12 digits, as `docker ps` shows it), for a command that has just
# listed them (check_services, a start once `up` has returned):
# engine_ports then asks the engine nothing more.
declare -gA _LISTED_PORTS=()
# Usage: remember_listed_ports DETAIL
remember_listed_ports() {
    local id ports
    while IFS=$'\x1f' read -r id _ _ _ _ _ _ _ ports; do
        [[ -z "$id" ]] || _LISTED_PORTS[${id:0:12}]="$ports"
    done <<<"$1"
}

# engine_ports from the listing remembered for CONTAINER, e.g.
# "127.0.0.1:41300->3000/tcp, [::]:41300->3000/tcp" (":::41300" on older
# engines). Returns 1 when there is none, or it holds a range
# ("8000-8001->8000-8001/tcp"), which `docker port` spells out.
# Usage: _listed_ports SERVICE CONTAINER
_listed_ports() {
    local service="$1" entry rest host lines=""
    [[ -n "${_LISTED_PORTS[${2:0:12}]+set}" ]] || return 1
    rest="${_LISTED_PORTS[${2:0:12}]}"
    while [[ -n "$rest" ]]; do
        entry="${rest%%, *}"
        [[ "$rest" == *", "* ]] && rest="${rest#*, }" || rest=""
        [[ "$entry" == *"->"* && "$entry" == */tcp ]] || continue
        [[ "$entry" =~ ^(.*):([0-9]+)-\>([0-9]+)/tcp$ ]] || return 1
        host="${BASH_REMATCH[1]}"
        lines+="$service ${host//[][]/} ${BASH_REMATCH[2]} ${BASH_REMATCH[3]}"$'\n'
    done
    printf '%s' "$lines"
}

# The ids of this project's networks.
project_networks() {
    docker network ls -q --filter "label=com.docker.compose.project=$(project_name)"
}

# "SERVICE NAME" for each of this project's containers of SERVICES, for
# messages that say what to remove.
# Usage: container_names SERVICE...
container_names() {
    docker ps -a --filter "label=com.docker.compose.project=$(project_name)" \
        --format '{{.Label "com.docker.compose.service"}} {{.Names}}' 2>/dev/null |
        awk -v wanted=" $* " 'index(wanted, " " $1 " ") { print }' || true
}
