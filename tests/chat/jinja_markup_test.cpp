// Markup semantics (markupsafe.Markup, what `safe` and `escape` return) against Python Jinja2 3.1.6 with
// MarkupSafe 3.0.3, rendered as Hugging Face does (ImmutableSandboxedEnvironment, autoescape off,
// trim_blocks, lstrip_blocks, its own tojson). Each expected string was produced by Jinja2 itself; the
// comment above each case says which Python rule gives it. The rules in short:
// - `+` with a Markup on either side escapes the plain str side (Markup.__add__, and Markup.__radd__,
//   which Python calls first because Markup subclasses str) and gives Markup;
// - `~` is str_join when autoescape is off: plain concatenation, plain result;
// - `%`, .format() and .join() on a Markup escape what they insert unless it is Markup itself;
// - methods Markup overrides (case mapping, strip, split, slicing, *) keep the Markup type, so a later
//   `+` still escapes; iteration, |title, |replace, |join and |tojson give plain str.
// The plain side's escape is markupsafe.escape: & < > " ' as &amp; &lt; &gt; &#34; &#39;.
#include <gtest/gtest.h>

#include "chat/chat_template.h"

namespace cria::chat {
namespace {

struct Case {
  const char* source;
  const char* expected;
};

const Case kCases[] = {
    // Markup + str: the str is escaped, the Markup is not.
    {R"J({{ "<b>"|safe + "<i>" }})J", R"J(<b>&lt;i&gt;)J"},
    // str + Markup: Markup.__radd__ runs before str.__add__ and escapes the left side.
    {R"J({{ "<i>" + "<b>"|safe }})J", R"J(&lt;i&gt;<b>)J"},
    // All five characters markupsafe escapes; quotes as numeric entities.
    {R"J({{ "a'"|safe + "'\"&" }})J", R"J(a'&#39;&#34;&amp;)J"},
    // The sum is Markup again, so the next `+` escapes too.
    {R"J({{ ("<b>"|safe + "<i>") + "<u>" }})J", R"J(<b>&lt;i&gt;&lt;u&gt;)J"},
    // Markup + Markup: escape() returns a Markup unchanged.
    {R"J({{ "<"|safe + "<"|safe }})J", R"J(<<)J"},
    // |e gives Markup, which a Markup sum does not escape a second time.
    {R"J({{ ("a"|safe) + ("<"|e) }})J", R"J(a&lt;)J"},
    // `~` compiles to str_join with autoescape off: nothing escaped, and the result is a plain str.
    {R"J({{ "<b>"|safe ~ "<i>" }}|{{ ("<b>"|safe ~ "<i>") + "&" }})J", R"J(<b><i>|<b><i>&)J"},
    // escape/e of a str escapes; of a Markup (already escaped, or marked safe) changes nothing.
    {R"J({{ "<b>"|e }}|{{ "<b>"|escape }}|{{ "<b>"|e|e }}|{{ "<b>"|safe|e }})J",
     R"J(&lt;b&gt;|&lt;b&gt;|&lt;b&gt;|<b>)J"},
    // escape() of a non-string escapes its str() and returns Markup, so `+ "<"` escapes.
    {R"J({{ "<b>"|e + "<" }}|{{ 5|e + "<" }}|{{ none|e + "<" }}|{{ ["<"]|e }})J",
     R"J(&lt;b&gt;&lt;|5&lt;|None&lt;|[&#39;&lt;&#39;])J"},
    // forceescape takes str() of a Markup first, so it escapes Markup too (escaped text twice).
    {R"J({{ "<b>"|forceescape }}|{{ "<b>"|safe|forceescape }}|{{ "<"|e|forceescape }})J",
     R"J(&lt;b&gt;|&lt;b&gt;|&amp;lt;)J"},
    // |string is soft_str (Markup stays Markup), |safe of Markup is Markup(Markup); |safe of a number is
    // Markup("5"), while |string of a number is a plain str.
    {R"J({{ "<b>"|safe|string + "<" }}|{{ "<b>"|safe|safe + "<" }}|{{ 5|safe + "<" }}|{{ 5|string + "<" }})J",
     R"J(<b>&lt;|<b>&lt;|5&lt;|5<)J"},
    // Markup % args wraps each argument in _MarkupEscapeHelper: %s gives escape(arg) (a Markup argument
    // unchanged), %r escape(repr(arg)); dict arguments are wrapped per key.
    {R"J({{ ("<b>%s"|safe) % "<i>" }}|{{ ("<b>%s %s"|safe) % ("<i>", 1) }}|{{ ("<b>%(x)s"|safe) % {"x": "<i>"} }}|{{ ("%s %r"|safe) % ("<"|safe, "<") }})J",
     R"J(<b>&lt;i&gt;|<b>&lt;i&gt; 1|<b>&lt;i&gt;|< &#39;&lt;&#39;)J"},
    // str % Markup is plain str.__mod__ (Markup has no __rmod__); a list argument is escaped as its str();
    // %d takes int() of the helper, unescaped.
    {R"J({{ "<b>%s" % ("<i>"|safe) }}|{{ ("%s"|safe) % ["<"] }}|{{ ("%d"|safe) % 3 }})J",
     R"J(<b><i>|[&#39;&lt;&#39;]|3)J"},
    // Markup.format uses EscapeFormatter (the sandbox too): arguments escaped unless Markup; result Markup.
    // str.format of a Markup argument inserts it as text.
    {R"J({{ ("<b>{}"|safe).format("<i>") }}|{{ ("{0}{x}"|safe).format("<", x="&"|safe) }}|{{ "<b>{}".format("<i>"|safe) }}|{{ ("{}"|safe).format("<") + "<" }})J",
     R"J(<b>&lt;i&gt;|&lt;&|<b><i>|&lt;&lt;)J"},
    // |format is soft_str(value) % args: on a Markup, Markup.__mod__ (positional and keyword).
    {R"J({{ ("<b>%s"|safe)|format("<i>") + "<" }}|{{ ("<%(x)s>"|safe)|format(x="<") }})J",
     R"J(<b>&lt;i&gt;&lt;|<&lt;>)J"},
    // Markup overrides __mul__ and __getitem__ (index and slice); |reverse is value[::-1]: all Markup.
    {R"J({{ ("<b>"|safe) * 2 + "<" }}|{{ ("<b>"|safe)[0] + "<" }}|{{ ("<b>"|safe)[1:] + "<" }}|{{ ("<b>"|safe)|reverse + "<" }})J",
     R"J(<b><b>&lt;|<&lt;|b>&lt;|>b<&lt;)J"},
    // upper/lower/capitalize/trim call the Markup methods (soft_str); indent builds from Markup pieces.
    {R"J({{ ("<B>"|safe)|upper + "<" }}|{{ ("<B>"|safe)|lower + "<" }}|{{ ("<b>"|safe)|capitalize + "<" }}|{{ (" <b> "|safe)|trim + "<" }}|{{ ("a\nb"|safe)|indent(2) + "<" }})J",
     R"J(<B>&lt;|<b>&lt;|<b>&lt;|<b>&lt;|a
  b&lt;)J"},
    // Plain str results: |title joins pieces with "".join, |replace and |join use str() with autoescape
    // off, |first iterates (str chars), and Hugging Face's tojson returns json.dumps' str.
    {R"J({{ ("<b>"|safe)|title + "<" }}|{{ ("<b>"|safe)|replace("b", "<") + "<" }}|{{ ["<"|safe, "<"]|join("&"|safe) + "<" }}|{{ ("<b>"|safe)|first + "<" }}|{{ ("<b>"|safe)|tojson + "<" }})J",
     R"J(<B><|<<><|<&<<|<<|"<b>"<)J"},
    // Markup's own methods return Markup (split gives a list of Markup).
    {R"J({{ ("<b>"|safe).upper() + "<" }}|{{ ("<B>"|safe).lower() + "<" }}|{{ (" <b> "|safe).strip() + "<" }}|{{ ("<b> x"|safe).title() + "<" }}|{{ ("<b>"|safe).split("b")[0] + "<" }})J",
     R"J(<B>&lt;|<b>&lt;|<b>&lt;|<B> X&lt;|<&lt;)J"},
    // Markup.replace escapes `new`; Markup.join escapes each item (and so accepts non-strings); str.join
    // of Markup items is plain.
    {R"J({{ ("<b>"|safe).replace("b", "<") }}|{{ ("<b>"|safe).replace("b", "<"|safe) }}|{{ ("&"|safe).join([1, "<", "<"|safe]) }}|{{ "&".join(["<", "<"|safe]) }})J",
     R"J(<&lt;>|<<>|1&&lt;&<|<&<)J"},
    // `escaped` tests for __html__; otherwise a Markup is a str: equal, same length, found by `in`.
    {R"J({{ ("<"|safe) is escaped }} {{ "<" is escaped }} {{ ("<"|e) is escaped }} {{ ("<"|safe) is string }} {{ ("<"|safe) == "<" }} {{ ("<"|safe)|length }} {{ ("<"|safe) in ["<"] }})J",
     R"J(True False True True True 1 True)J"},
    // repr(Markup) inside printed containers.
    {R"J({{ ["<"|safe] }} {{ {"k": "<"|safe} }} {{ ("a"|safe,) }} {{ ["<"|safe, "<"]|map("e")|list }})J",
     R"J([Markup('<')] {'k': Markup('<')} (Markup('a'),) [Markup('<'), Markup('&lt;')])J"},
    // A variable keeps its Markup; macros and set blocks return plain str when autoescape is off.
    {R"J({% set x = "<b>"|safe %}{% set y = x + "<" %}{{ y }}|{% macro m() %}<b>{% endmacro %}{{ m() + "<" }}|{% set s %}<b>{% endset %}{{ s + "<" }}|{{ s|safe + "<" }})J",
     R"J(<b>&lt;|<b><|<b><|<b>&lt;)J"},
    // Iterating a Markup gives str characters; |default and dict storage pass the Markup through.
    {R"J({% for c in "<b>"|safe %}{{ c + "<" }}{% endfor %}|{{ ("<b>"|safe)|default("x") + "<" }}|{{ ({"a": "<b>"|safe}).a + "<" }})J",
     R"J(<<b<><|<b>&lt;|<b>&lt;)J"},
};

TEST(JinjaMarkup, SafeAndEscapeFollowMarkupSafe) {
  for (const Case& c : kCases) {
    ChatTemplateInputs in;
    in.messages = nlohmann::ordered_json::parse(R"([{"role": "user", "content": "Hi"}])");
    const auto out = apply_chat_template(c.source, in);
    ASSERT_TRUE(out.ok()) << c.source << "\n" << out.error().message;
    EXPECT_EQ(*out, c.expected) << "template: " << c.source;
  }
}

// functionary-medium-v3.1 lists tools with `"..."|safe + name + ...`: the tool's name, description and
// JSON (a plain str from tojson) are all escaped. Jinja2's render of that template line.
TEST(JinjaMarkup, FunctionaryToolListingEscapesThePlainParts) {
  ChatTemplateInputs in;
  in.messages = nlohmann::ordered_json::parse(R"([{"role": "user", "content": "Hi"}])");
  in.tools = nlohmann::ordered_json::parse(R"([{"type": "function", "function": {"name": "get_weather",
      "description": "Weather at a <place>, don't guess",
      "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}])");
  const char* source =
      R"J({% for t in tools %}{{ "Use the function '"|safe + t["function"]["name"] + "' to '"|safe + t["function"]["description"] + "'\n"|safe + t["function"] | tojson() }}{% endfor %})J";
  const auto out = apply_chat_template(source, in);
  ASSERT_TRUE(out.ok()) << out.error().message;
  EXPECT_EQ(*out,
            "Use the function 'get_weather' to 'Weather at a &lt;place&gt;, don&#39;t guess'\n"
            "{&#34;name&#34;: &#34;get_weather&#34;, &#34;description&#34;: &#34;Weather at a &lt;place&gt;, "
            "don&#39;t guess&#34;, &#34;parameters&#34;: {&#34;type&#34;: &#34;object&#34;, &#34;properties&#34;: "
            "{&#34;city&#34;: {&#34;type&#34;: &#34;string&#34;}}}}");
}

// Markup.__add__/__radd__ return NotImplemented for non-strings, so Python's message names both types;
// an undefined operand fails as undefined first; Jinja2 names Markup by its module in attribute errors.
TEST(JinjaMarkup, ErrorsNameMarkupAsPythonDoes) {
  const Case cases[] = {
      {R"J({{ ("a"|safe) + 1 }})J", "TypeError: unsupported operand type(s) for +: 'Markup' and 'int'"},
      {R"J({{ 1 + ("a"|safe) }})J", "TypeError: unsupported operand type(s) for +: 'int' and 'Markup'"},
      {R"J({{ ("a"|safe) + none }})J", "TypeError: unsupported operand type(s) for +: 'Markup' and 'NoneType'"},
      {R"J({{ ("a"|safe) + ["x"] }})J", "TypeError: unsupported operand type(s) for +: 'Markup' and 'list'"},
      {R"J({{ ("a"|safe) + missing }})J", "UndefinedError: 'missing' is undefined"},
      {R"J({{ ("a"|safe).nope + "x" }})J", "UndefinedError: 'markupsafe.Markup object' has no attribute 'nope'"},
  };
  for (const Case& c : cases) {
    ChatTemplateInputs in;
    const auto out = apply_chat_template(c.source, in);
    ASSERT_FALSE(out.ok()) << c.source << " rendered " << *out;
    EXPECT_EQ(out.error().message, c.expected) << "template: " << c.source;
  }
}

}  // namespace
}  // namespace cria::chat
