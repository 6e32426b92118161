// HTTP downloads with libcurl for `cria pull`: redirects followed (the Hub sends files from a CDN), a
// bearer token for gated repositories, partial files resumed with Range requests, retries with backoff on
// network errors and 5xx answers, stall and connect timeouts, and the file's SHA-256 checked before it is
// renamed into place (NAME.part until then, so an interrupted run never leaves a file that looks whole).
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "core/result.h"

namespace cria::hub {

struct DownloadOptions {
  std::string token;              // "Authorization: Bearer TOKEN" (HF_TOKEN, --hf-token); "" for none
  long connect_timeout_s = 30;
  long stall_timeout_s = 60;      // give up on a transfer that moves no byte for this long (then retry)
  int retries = 5;                // further attempts after a network error or a 5xx answer
  double backoff_s = 1.0;         // first wait between attempts, doubled each time (at most 30 s)
  // Called as bytes arrive: done and total (0 when unknown) of this file, and the current speed.
  std::function<void(uint64_t done, uint64_t total, double bytes_per_s)> progress;
};

struct HttpText {
  long status = 0;
  std::string body;
};

// GET a small document (the repository listing), following redirects; network errors are retried.
Result<HttpText> fetch_text(const std::string& url, const DownloadOptions& options);

// Downloads `url` to `path` (size and sha256 as the Hub lists them; 0 and "" when unknown). A checksum
// mismatch deletes the partial file and is an error.
Status download_file(const std::string& url, const std::string& path, uint64_t size, const std::string& sha256,
                     const DownloadOptions& options);

// The SHA-256 of a file, as lowercase hex.
Result<std::string> sha256_file(const std::string& path);

// An answer's status as a sentence for errors: 401/403 say to set HF_TOKEN, 404 that it does not exist.
std::string http_status_message(long status, const std::string& what);

}  // namespace cria::hub
