# shellcheck shell=bash
# Creates .env.infra, or fills the placeholders and gaps an existing one has.

usage() {
    print_usage <<EOF
Usage: $SCRIPT_NAME

Without .env.infra: creates it from .env.infra.example with every secret
freshly generated (mode 0600). ./scripts/start.sh does this by itself.

With .env.infra: replaces every value that is still the placeholder
'change-me' with a generated secret, and appends any variable of the
example that the file lacks. Every other line is kept as it is.

Values are never printed. Generated secrets are hex (or pk-lf-/sk-lf- UUIDs
for the Langfuse keys), so they are safe in URLs and on command lines.

Options:
  -h, --help   show this help

Exit status: 0 done, 1 failed, 2 usage error.
EOF
}

# Appends the example's variables that FILE lacks, generating secrets.
append_missing_variables() {
    local file="$1" line key value added=()
    while IFS= read -r line; do
        [[ "$line" =~ ^([A-Za-z_][A-Za-z0-9_]*)=(.*)$ ]] || continue
        key="${BASH_REMATCH[1]}"
        value="${BASH_REMATCH[2]}"
        grep -Eq "^[[:space:]]*(export[[:space:]]+)?${key}[[:space:]]*=" "$file" && continue
        [[ "$value" != "$PLACEHOLDER" ]] || value="$(generate_secret "$key")"
        ((${#added[@]} > 0)) || printf '\n# Added by init-env.sh from .env.infra.example\n' >>"$file"
        printf '%s=%s\n' "$key" "$value" >>"$file"
        added+=("$key")
    done <"$ENV_EXAMPLE"
    ((${#added[@]} == 0)) || printf '%s\n' "${added[@]}"
}

main() {
    local filled added work
    parse_no_arguments "$@"
    needs lock
    if [[ ! -e "$ENV_FILE" ]]; then
        create_env_file
        return 0
    fi
    _check_env_file_mode
    # All changes go to a private copy that replaces the file in one rename:
    # an interrupted run leaves the old file, never half a new one.
    work="$(mktemp "$ENV_FILE.XXXXXX")"
    at_exit "rm -f $(printf '%q' "$work")"
    cat "$ENV_FILE" >"$work"
    filled="$(fill_placeholders "$work")"
    added="$(append_missing_variables "$work")"
    if [[ -z "$filled$added" ]]; then
        ok ".env.infra has no placeholders or missing variables; nothing changed"
        return 0
    fi
    mv -f "$work" "$(resolve_symlinks "$ENV_FILE")"
    [[ -z "$filled" ]] || ok "generated: $(paste -sd ' ' - <<<"$filled")"
    [[ -z "$added" ]] || ok "added from the example: $(paste -sd ' ' - <<<"$added")"
    info "Values are in .env.infra (not shown)."
}
