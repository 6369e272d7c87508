#!/bin/sh
# GraphQL over Server-Sent Events with curl: appointment changes as they happen, one `event: next` block each.
#   TOKEN=$(curl -s -u "$CLIENT_ID:$CLIENT_SECRET" -d grant_type=client_credentials http://localhost:4000/oauth/token | jq -r .access_token)
#   TOKEN=$TOKEN sh examples/sse.sh            # from now on
#   TOKEN=$TOKEN AFTER=<cursor> sh examples/sse.sh   # what followed that cursor first, then live
set -eu
VARIABLES='{}'
if [ -n "${AFTER:-}" ]; then VARIABLES="{\"after\":\"$AFTER\"}"; fi
curl -sN "${DERM_URL:-http://localhost:4000}/graphql/stream" -H 'accept: text/event-stream' -H 'content-type: application/json' -H "authorization: Bearer $TOKEN" -d '{"query":"subscription($after: String) { appointmentChanged(after: $after) { kind cursor appointment { id status } } }","variables":'"$VARIABLES"'}'
