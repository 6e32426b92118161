// What chat and interactive completion share at the terminal: reading the user's lines (libedit with
// editing and history at a terminal, plain lines from a pipe) and Ctrl-C. While the model is generating,
// the first Ctrl-C only asks it to stop (stop_requested()) and control returns to the user; any other
// Ctrl-C (at the prompt, or a second one while generating) exits with 130, the terminal's settings restored.
#pragma once

#include <atomic>
#include <optional>
#include <string>

namespace cria::cli {

// Installs the Ctrl-C handling above; `terminal`: stdin is a terminal whose settings are restored on exit.
void catch_interrupts(bool terminal);

// Brackets generation: between generating(true) and generating(false) a first Ctrl-C sets the stop flag.
void generating(bool on);
const std::atomic<bool>& stop_requested();

// One line of input without its newline, after `prompt` at a terminal; nothing at end of input.
std::optional<std::string> read_line(bool terminal, const std::string& prompt);

// The user's input as llama.cpp's console reads it: a line ending in '\' goes on to the next line, and
// with `multiline` (--multiline-input) lines go on until one ends in '\'; a line ending in '/' ends the
// input there. Each line keeps its newline, except one ended by '/' ("a\" then "b" is "a\nb\n").
// Nothing at end of input before any line.
std::optional<std::string> read_input(bool terminal, const std::string& prompt, bool multiline);

}  // namespace cria::cli
