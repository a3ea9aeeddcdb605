#!/bin/sh
# Before the templates are rendered: the body limit of POST /comments, which may carry up to 4
# images besides its text. Computed here from the API's own settings so that the two agree.
set -eu
echo "client_max_body_size $(( ${MAX_BODY_BYTES:-131072} + 4 * ${MAX_IMAGE_BYTES:-5242880} ));" \
  > /etc/nginx/upload-limit.conf
