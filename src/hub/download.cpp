#include "hub/download.h"

#include <curl/curl.h>
#include <openssl/evp.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <mutex>
#include <thread>

namespace cria::hub {

namespace {

namespace fs = std::filesystem;

void init_curl() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

struct CurlDeleter {
  void operator()(CURL* c) const { curl_easy_cleanup(c); }
};
struct SlistDeleter {
  void operator()(curl_slist* l) const { curl_slist_free_all(l); }
};
struct FileCloser {
  void operator()(std::FILE* f) const { std::fclose(f); }
};

// The parts of a request both kinds share: redirects, timeouts, the token, a user agent.
std::unique_ptr<curl_slist, SlistDeleter> configure(CURL* c, const std::string& url, const DownloadOptions& o) {
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
  curl_easy_setopt(c, CURLOPT_MAXREDIRS, 10L);
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, o.connect_timeout_s);
  curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
  curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, o.stall_timeout_s);
  curl_easy_setopt(c, CURLOPT_USERAGENT, "cria");
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_slist* headers = nullptr;
  // The token goes to the Hub only: curl drops it when a redirect leads to another host (the CDN's
  // addresses are signed and need none).
  if (!o.token.empty()) headers = curl_slist_append(headers, ("Authorization: Bearer " + o.token).c_str());
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
  return std::unique_ptr<curl_slist, SlistDeleter>(headers);
}

bool transient(CURLcode code) {
  switch (code) {
    case CURLE_COULDNT_CONNECT:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_PARTIAL_FILE:
    case CURLE_RECV_ERROR:
    case CURLE_SEND_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
    case CURLE_SSL_CONNECT_ERROR:
      return true;
    default:
      return false;
  }
}

void wait_before(int attempt, const DownloadOptions& o) {
  const double s = std::min(30.0, o.backoff_s * static_cast<double>(1 << std::min(attempt, 10)));
  std::this_thread::sleep_for(std::chrono::duration<double>(s));
}

struct Sink {
  std::FILE* file = nullptr;
  std::string* text = nullptr;
  long status = 0;        // of the last response (after redirects)
  bool accepting = false;  // the body is the file's (not a redirect's or an error's)
  uint64_t start = 0, done = 0, total = 0;
  bool write_failed = false;
  std::chrono::steady_clock::time_point began = std::chrono::steady_clock::now();
  const DownloadOptions* options = nullptr;
};

size_t on_header(char* data, size_t size, size_t n, void* user) {
  auto* s = static_cast<Sink*>(user);
  const std::string line(data, size * n);
  if (line.rfind("HTTP/", 0) == 0) {
    const size_t sp = line.find(' ');
    s->status = sp == std::string::npos ? 0 : std::strtol(line.c_str() + sp + 1, nullptr, 10);
  }
  return size * n;
}

size_t on_body(char* data, size_t size, size_t n, void* user) {
  auto* s = static_cast<Sink*>(user);
  const size_t bytes = size * n;
  if (s->text != nullptr) {
    if (s->text->size() + bytes > (size_t{64} << 20)) return 0;  // a listing is never this big
    s->text->append(data, bytes);
    return bytes;
  }
  if (s->status != 200 && s->status != 206) return bytes;  // an error page: not written
  if (std::fwrite(data, 1, bytes, s->file) != bytes) {
    s->write_failed = true;
    return 0;
  }
  s->done += bytes;
  if (s->options->progress) {
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - s->began).count();
    s->options->progress(s->start + s->done, s->total, secs > 0 ? static_cast<double>(s->done) / secs : 0.0);
  }
  return bytes;
}

}  // namespace

std::string http_status_message(long status, const std::string& what) {
  if (status == 401 || status == 403) {
    return what + ": access denied (HTTP " + std::to_string(status) +
           "): the repository may be gated or private; accept its terms on the Hub and set HF_TOKEN (or --hf-token)";
  }
  if (status == 404) return what + ": not found (HTTP 404)";
  return what + ": HTTP " + std::to_string(status);
}

Result<HttpText> fetch_text(const std::string& url, const DownloadOptions& o) {
  init_curl();
  for (int attempt = 0;; ++attempt) {
    std::unique_ptr<CURL, CurlDeleter> c(curl_easy_init());
    if (!c) return make_error("cannot start libcurl");
    auto headers = configure(c.get(), url, o);
    Sink sink;
    std::string body;
    sink.text = &body;
    sink.options = &o;
    curl_easy_setopt(c.get(), CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c.get(), CURLOPT_HEADERDATA, &sink);
    curl_easy_setopt(c.get(), CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c.get(), CURLOPT_WRITEDATA, &sink);
    curl_easy_setopt(c.get(), CURLOPT_TIMEOUT, o.connect_timeout_s + o.stall_timeout_s);
    const CURLcode code = curl_easy_perform(c.get());
    long status = 0;
    curl_easy_getinfo(c.get(), CURLINFO_RESPONSE_CODE, &status);
    const bool retry = (code != CURLE_OK && transient(code)) || (code == CURLE_OK && status >= 500);
    if (retry && attempt < o.retries) {
      wait_before(attempt, o);
      continue;
    }
    if (code != CURLE_OK) return make_error(url + ": " + curl_easy_strerror(code));
    return HttpText{status, std::move(body)};
  }
}

Result<std::string> sha256_file(const std::string& path) {
  std::unique_ptr<std::FILE, FileCloser> f(std::fopen(path.c_str(), "rb"));
  if (!f) return make_error(path + ": cannot read");
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr);
  std::vector<unsigned char> buf(size_t{1} << 20);
  for (size_t n; (n = std::fread(buf.data(), 1, buf.size(), f.get())) > 0;) EVP_DigestUpdate(ctx.get(), buf.data(), n);
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_DigestFinal_ex(ctx.get(), digest, &len);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned int i = 0; i < len; ++i) {
    out += kHex[digest[i] >> 4];
    out += kHex[digest[i] & 15];
  }
  return out;
}

Status download_file(const std::string& url, const std::string& path, uint64_t size, const std::string& sha256,
                     const DownloadOptions& o) {
  init_curl();
  const std::string part = path + ".part";
  std::error_code ec;
  fs::create_directories(fs::path(path).parent_path(), ec);
  for (int attempt = 0;; ++attempt) {
    uint64_t have = fs::exists(part, ec) ? fs::file_size(part, ec) : 0;
    if (size > 0 && have > size) {  // not this file's start: begin again
      fs::remove(part, ec);
      have = 0;
    }
    if (size > 0 && have == size) break;  // all there: check it
    std::unique_ptr<std::FILE, FileCloser> f(std::fopen(part.c_str(), have > 0 ? "ab" : "wb"));
    if (!f) return make_error(part + ": cannot write");
    std::unique_ptr<CURL, CurlDeleter> c(curl_easy_init());
    if (!c) return make_error("cannot start libcurl");
    auto headers = configure(c.get(), url, o);
    Sink sink;
    sink.file = f.get();
    sink.start = have;
    sink.total = size;
    sink.options = &o;
    const std::string range = std::to_string(have) + "-";
    if (have > 0) curl_easy_setopt(c.get(), CURLOPT_RANGE, range.c_str());
    curl_easy_setopt(c.get(), CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c.get(), CURLOPT_HEADERDATA, &sink);
    curl_easy_setopt(c.get(), CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c.get(), CURLOPT_WRITEDATA, &sink);
    const CURLcode code = curl_easy_perform(c.get());
    f.reset();
    long status = 0;
    curl_easy_getinfo(c.get(), CURLINFO_RESPONSE_CODE, &status);
    if (sink.write_failed) return make_error(part + ": cannot write (disk full?)");
    if (have > 0 && status == 200) {
      // The server ignored the range and sent the whole file, which was appended: keep only the new copy.
      std::error_code e2;
      const uint64_t now = fs::file_size(part, e2);
      if (!e2 && now >= have) {
        std::unique_ptr<std::FILE, FileCloser> in(std::fopen(part.c_str(), "rb"));
        const std::string fresh = part + ".fresh";
        std::unique_ptr<std::FILE, FileCloser> out(std::fopen(fresh.c_str(), "wb"));
        if (!in || !out) return make_error(part + ": cannot rewrite");
        std::fseek(in.get(), static_cast<long>(have), SEEK_SET);
        std::vector<char> buf(size_t{1} << 20);
        for (size_t n; (n = std::fread(buf.data(), 1, buf.size(), in.get())) > 0;) std::fwrite(buf.data(), 1, n, out.get());
        out.reset();
        fs::rename(fresh, part, e2);
      }
    }
    const bool server_error = code == CURLE_OK && status >= 500;
    if (code == CURLE_OK && (status == 200 || status == 206)) {
      if (size == 0 || fs::file_size(part, ec) >= size) break;
    }
    if (code == CURLE_OK && status == 416 && size > 0 && have == size) break;
    const bool retry = (code != CURLE_OK && transient(code)) || server_error ||
                       (code == CURLE_OK && (status == 200 || status == 206));  // ended early: resume
    if (!retry) {
      if (code != CURLE_OK) return make_error(url + ": " + curl_easy_strerror(code));
      return make_error(http_status_message(status, url));
    }
    if (attempt >= o.retries) {
      return make_error(url + ": gave up after " + std::to_string(attempt + 1) + " attempts (" +
                        (code != CURLE_OK ? std::string(curl_easy_strerror(code)) : "HTTP " + std::to_string(status)) +
                        "); run the same command again to resume from " + part);
    }
    wait_before(attempt, o);
  }
  if (size > 0 && fs::file_size(part, ec) != size) {
    fs::remove(part, ec);
    return make_error(path + ": the download has " + std::to_string(fs::file_size(part, ec)) + " bytes, the Hub lists " +
                      std::to_string(size));
  }
  if (!sha256.empty()) {
    auto got = sha256_file(part);
    if (!got) return got.error();
    if (*got != sha256) {
      fs::remove(part, ec);
      return make_error(path + ": checksum mismatch: SHA-256 " + *got + ", the Hub lists " + sha256 +
                        " (the partial file was deleted; run the command again)");
    }
  }
  fs::rename(part, path, ec);
  if (ec) return make_error(path + ": cannot move the download into place: " + ec.message());
  return Ok{};
}

}  // namespace cria::hub
