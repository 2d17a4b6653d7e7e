// Images named by an http(s) URL (`distrvit classify https://...`): fetched once into the download cache.
#pragma once
#include <string>

#include "distrvit/hub.h"

namespace distrvit {

bool is_image_url(const std::string& spec);  // starts with http:// or https://

// A local file holding the image at `url`: <cache>/images/<16 hex digits of SHA-256(url)>/<the URL's file name>.
// Downloaded when missing: into a part file, decoded as an image, then moved into place, so the cache never holds
// a partial or undecodable file. Throws Error naming the URL: HTTP or network failure, not an image, offline and
// not cached.
std::string resolve_image_url(const std::string& url, const HubOptions& options = {});

}  // namespace distrvit
