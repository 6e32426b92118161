// `cria pull`, `cria ls`, `cria rm`, and -hf on the model commands: models from Hugging Face into the
// cache (hub/pull.h), with a progress line on a terminal and a line per 10% otherwise.
#include <unistd.h>

#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <ctime>
#include <memory>
#include <string>
#include <vector>

#include "commands.h"
#include "hub/pull.h"
#include "llama_cpp_compat.h"
#include "model_loading.h"

namespace cria::cli {

namespace {

struct PullCommandOptions {
  std::string what;  // REPO[:QUANT] or a URL
  std::string file, token;
  bool offline = false;
  long timeout = 60;
  int retries = 5;
};

std::string mb(double bytes) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f MB", bytes / 1e6);
  return buf;
}

// Progress on stderr: redrawn in place on a terminal (at most 10 times a second), else a line per 10%.
std::function<void(uint64_t, uint64_t, double)> progress_printer() {
  const bool tty = isatty(STDERR_FILENO) != 0;
  auto last_draw = std::make_shared<std::chrono::steady_clock::time_point>();
  auto last_tenth = std::make_shared<int>(-1);
  return [tty, last_draw, last_tenth](uint64_t done, uint64_t total, double speed) {
    const double pct = total > 0 ? 100.0 * static_cast<double>(done) / static_cast<double>(total) : 0.0;
    char line[160];
    const double left = speed > 0 && total > done ? static_cast<double>(total - done) / speed : 0.0;
    std::snprintf(line, sizeof line, "%5.1f%%  %s / %s  %s/s  %d:%02d left", pct, mb(static_cast<double>(done)).c_str(),
                  mb(static_cast<double>(total)).c_str(), mb(speed).c_str(), static_cast<int>(left) / 60,
                  static_cast<int>(left) % 60);
    if (tty) {
      const auto now = std::chrono::steady_clock::now();
      if (done < total && now - *last_draw < std::chrono::milliseconds(100)) return;
      *last_draw = now;
      std::fprintf(stderr, "\r%s\033[K%s", line, done >= total ? "\n" : "");
    } else {
      const int tenth = total > 0 ? static_cast<int>(done * 10 / total) : 0;
      if (tenth == *last_tenth) return;
      *last_tenth = tenth;
      std::fprintf(stderr, "%s\n", line);
    }
  };
}

hub::PullOptions options_for(const std::string& file, const std::string& token, bool offline, long timeout, int retries) {
  hub::PullOptions o;
  o.file = file;
  o.offline = offline;
  o.download.token = token;
  o.download.stall_timeout_s = timeout;
  o.download.retries = retries;
  o.download.progress = progress_printer();
  o.note = [](const std::string& line) { std::fprintf(stderr, "cria pull: %s\n", line.c_str()); };
  return hub::pull_options_from_env(o);
}

int run_pull(const PullCommandOptions& p) {
  hub::PullOptions o = options_for(p.file, p.token, p.offline, p.timeout, p.retries);
  if (p.what.rfind("https://", 0) == 0 || p.what.rfind("http://", 0) == 0) {
    // A plain URL: into the cache under url/HOST/PATH, without a checksum to check.
    std::string rest = p.what.substr(p.what.find("//") + 2);
    if (const size_t q = rest.find_first_of("?#"); q != std::string::npos) rest.resize(q);
    if (rest.find("..") != std::string::npos || rest.empty() || rest.back() == '/') return fail(p.what + ": not a file URL");
    const std::string path = (o.cache / "url" / rest).string();
    if (std::filesystem::exists(path)) {
      std::printf("%s\n", path.c_str());
      return 0;
    }
    if (o.offline) return fail(p.what + " is not in the cache and --offline forbids the network");
    if (auto st = hub::download_file(p.what, path, 0, "", o.download); !st) return fail(st.error().message);
    std::printf("%s\n", path.c_str());
    return 0;
  }
  auto ref = hub::parse_hub_ref(p.what);
  if (!ref) return fail(ref.error().message);
  auto path = hub::pull(*ref, o);
  if (!path) return fail(path.error().message);
  std::printf("%s\n", path->c_str());
  return 0;
}

int run_ls() {
  const auto cache = hub::pull_options_from_env({}).cache;
  const auto files = hub::list_cache(cache);
  if (files.empty()) {
    std::fprintf(stderr, "cria ls: nothing cached in %s\n", cache.string().c_str());
    return 0;
  }
  std::printf("%-40s %-48s %-8s %10s  %s\n", "REPOSITORY", "FILE", "QUANT", "SIZE", "LAST USED");
  for (const auto& f : files) {
    const auto sys = std::chrono::time_point_cast<std::chrono::system_clock::duration>(
        f.last_used - std::filesystem::file_time_type::clock::now() + std::chrono::system_clock::now());
    const std::time_t t = std::chrono::system_clock::to_time_t(sys);
    char when[32];
    std::strftime(when, sizeof when, "%Y-%m-%d %H:%M", std::localtime(&t));
    std::printf("%-40s %-48s %-8s %10s  %s\n", f.repo.c_str(), f.path.c_str(), f.quant.empty() ? "-" : f.quant.c_str(),
                mb(static_cast<double>(f.size)).c_str(), when);
  }
  return 0;
}

int run_rm(const std::string& what) {
  auto ref = hub::parse_hub_ref(what);
  if (!ref) return fail(ref.error().message);
  const auto cache = hub::pull_options_from_env({}).cache;
  auto removed = hub::remove_cached(cache, *ref);
  if (!removed) return fail(removed.error().message);
  std::fprintf(stderr, "cria rm: removed %d file%s\n", *removed, *removed == 1 ? "" : "s");
  return 0;
}

// Takes `--flag VALUE` or `--flag=VALUE` out of args (from index `start`); "" when absent.
bool take(std::vector<std::string>& args, size_t start, const std::string& flag, std::string* value) {
  for (size_t i = start; i < args.size(); ++i) {
    if (args[i] == flag) {
      if (value == nullptr) {
        args.erase(args.begin() + static_cast<std::ptrdiff_t>(i));
        return true;
      }
      if (i + 1 >= args.size()) return false;
      *value = args[i + 1];
      args.erase(args.begin() + static_cast<std::ptrdiff_t>(i), args.begin() + static_cast<std::ptrdiff_t>(i) + 2);
      return true;
    }
    if (value != nullptr && args[i].rfind(flag + "=", 0) == 0) {
      *value = args[i].substr(flag.size() + 1);
      args.erase(args.begin() + static_cast<std::ptrdiff_t>(i));
      return true;
    }
  }
  return false;
}

}  // namespace

int resolve_hub_model(std::vector<std::string>& args, size_t start) {
  std::string repo, file, token;
  const bool has_repo = take(args, start, "--hf-repo", &repo);
  const bool has_file = take(args, start, "--hf-file", &file);
  take(args, start, "--hf-token", &token);
  const bool offline = take(args, start, "--offline", nullptr);
  if (!has_repo) {
    if (has_file) return fail("--hf-file needs -hf REPO");
    return 0;
  }
  for (size_t i = start; i < args.size(); ++i) {
    if (args[i] == "-m" || args[i] == "--model" || args[i].rfind("--model=", 0) == 0) {
      note("-hf ignored: -m names the model");
      return 0;
    }
  }
  auto ref = hub::parse_hub_ref(repo);
  if (!ref) return fail(ref.error().message);
  auto path = hub::pull(*ref, options_for(file, token, offline, 60, 5));
  if (!path) return fail(path.error().message);
  args.push_back("-m");
  args.push_back(*path);
  return 0;
}

void add_pull_commands(CLI::App& app, Action& run) {
  auto opt = std::make_shared<PullCommandOptions>();
  CLI::App* cmd = app.add_subcommand(
      "pull", "Download a GGUF model from Hugging Face into the cache (user/repo[:QUANT]; without QUANT Q4_K_M, else "
              "Q4_K_S, Q5_K_M, Q8_0, else the smallest; all shards of a split model) or a file URL; prints its path. "
              "HF_TOKEN for gated repositories, HF_ENDPOINT for a mirror, CRIA_CACHE for the cache (~/.cache/cria)");
  cmd->add_option("model", opt->what, "user/repo[:QUANT] or https://...")->required();
  cmd->add_option("--hf-file", opt->file, "This file of the repository instead of a quant");
  cmd->add_option("--hf-token", opt->token, "Hugging Face token (default: HF_TOKEN)");
  cmd->add_flag("--offline", opt->offline, "Only the cache: no network");
  cmd->add_option("--timeout", opt->timeout, "Seconds a download may make no progress before it is retried (default 60)")
      ->check(CLI::Range(1L, 3600L));
  cmd->add_option("--retries", opt->retries, "Attempts after a network error (default 5)")->check(CLI::Range(0, 100));
  cmd->callback([opt, &run] { run = [opt] { return run_pull(*opt); }; });

  CLI::App* ls = app.add_subcommand("ls", "List the cached models: repository, file, quant, size, last used");
  ls->callback([&run] { run = [] { return run_ls(); }; });

  auto target = std::make_shared<std::string>();
  CLI::App* rm = app.add_subcommand("rm", "Delete cached models: user/repo[:QUANT] (all of the repository's without QUANT)");
  rm->add_option("model", *target, "user/repo[:QUANT]")->required();
  rm->callback([target, &run] { run = [target] { return run_rm(*target); }; });
}

}  // namespace cria::cli
