// The template engine against Python Jinja2 3.1.6 on small templates, one feature each: whitespace control,
// loops and loop variables, loop controls, namespaces, macros, call and filter blocks, slicing, tests,
// filters, str/dict methods, arithmetic and Python's printing of values. The expected strings were
// produced by Jinja2 itself (ImmutableSandboxedEnvironment with trim_blocks, lstrip_blocks, loopcontrols
// and Hugging Face's tojson), rendering with messages = [{"role": "user", "content": "Hi"}].
#include <gtest/gtest.h>

#include "chat/chat_template.h"

namespace cria::chat {
namespace {

struct Case {
  const char* source;
  const char* expected;
};

const Case kCases[] = {
    {R"J(a
  {% if true %}
  x
  {% endif %}
  b
)J",
     R"J(a
  x
  b)J"},
    {R"J(  {%- if true -%}  x  {%- endif -%}  y)J",
     R"J(xy)J"},
    {R"J({% for i in range(3) %}{{ loop.index }}{{ loop.index0 }}{{ loop.first }}{{ loop.last }}{{ loop.length }}{{ loop.revindex }}|{% endfor %})J",
     R"J(10TrueFalse33|21FalseFalse32|32FalseTrue31|)J"},
    {R"J({% for i in [1,2,3] %}{{ loop.previtem|default('-') }}{{ loop.nextitem|default('-') }} {% endfor %})J",
     R"J(-2 13 2- )J"},
    {R"J({% for i in [] %}x{% else %}empty{% endfor %})J",
     R"J(empty)J"},
    {R"J({% for i in range(10) %}{% if i == 2 %}{% continue %}{% endif %}{% if i == 5 %}{% break %}{% endif %}{{ i }}{% endfor %})J",
     R"J(0134)J"},
    {R"J({% for k, v in {'a': 1, 'b': 2}.items() %}{{ k }}={{ v }};{% endfor %})J",
     R"J(a=1;b=2;)J"},
    {R"J({% for x in [1,2,3,4] if x is even %}{{ x }}{{ loop.length }}{% endfor %})J",
     R"J(2242)J"},
    {R"J({% set ns = namespace(n=0) %}{% for i in range(4) %}{% set ns.n = ns.n + i %}{% endfor %}{{ ns.n }})J",
     R"J(6)J"},
    {R"J({% macro greet(name, punct='!') %}Hi {{ name }}{{ punct }}{% endmacro %}{{ greet('A') }} {{ greet('B', punct='?') }})J",
     R"J(Hi A! Hi B?)J"},
    {R"J({% macro wrap() %}[{{ caller() }}]{% endmacro %}{% call wrap() %}inner{% endcall %})J",
     R"J([inner])J"},
    {R"J({% filter upper %}shout {{ 'this' }}{% endfilter %})J",
     R"J(SHOUT THIS)J"},
    {R"J({% set block %}  text  {% endset %}[{{ block }}])J",
     R"J([  text  ])J"},
    {R"J({{ 'abc'[1:] }} {{ [1,2,3,4][::-1] }} {{ 'hello'[-3:-1] }} {{ [1,2,3][5:] }})J",
     R"J(bc [4, 3, 2, 1] ll [])J"},
    {R"J({{ 1 in [1,2] }} {{ 'a' in 'cat' }} {{ 'k' in {'k': 1} }} {{ 3 not in [1] }})J",
     R"J(True True True True)J"},
    {R"J({{ none is none }} {{ 1 is number }} {{ 'x' is string }} {{ {} is mapping }} {{ [] is iterable }} {{ 3 is odd }} {{ 4 is divisibleby 2 }} {{ x is defined }} {{ true is boolean }} {{ 1 is integer }} {{ 1.5 is float }})J",
     R"J(True True True True True True True False True True True)J"},
    {R"J({{ 'a' ~ 1 ~ none }} {{ 1 if false }} {{ 'y' if 0 else 'n' }} {{ not 0 and 'ok' or 'no' }})J",
     R"J(a1None  n ok)J"},
    {R"J({{ '  pad  '|trim }}|{{ 'MiXed'|lower }}|{{ 'MiXed'|upper }}|{{ 'hello world-x'|title }}|{{ 'hello World'|capitalize }})J",
     R"J(pad|mixed|MIXED|Hello World-X|Hello world)J"},
    {R"J({{ [3,1,2]|sort }} {{ [3,1,2]|sort(reverse=true) }} {{ ['b','A','a']|unique|list }} {{ [1,2,3]|sum }} {{ [4,2,9]|min }} {{ [4,2,9]|max }})J",
     R"J([1, 2, 3] [3, 2, 1] ['b', 'A'] 6 2 9)J"},
    {R"J({{ [1,2,3]|join(', ') }} {{ [{'n': 'a'}, {'n': 'b'}]|map(attribute='n')|join }} {{ ['a','b']|map('upper')|list }})J",
     R"J(1, 2, 3 ab ['A', 'B'])J"},
    {R"J({{ [{'t': 'x', 'v': 1}, {'t': 'y', 'v': 2}]|selectattr('t', 'equalto', 'y')|map(attribute='v')|first }} {{ [1,0,2]|select|list }} {{ [1,2,3]|reject('odd')|list }} {{ [{'a': 1}, {}]|rejectattr('a')|list }})J",
     R"J(2 [1, 2] [2] [{}])J"},
    {R"J({{ {'b': 1, 'a': [1, 2.5, none, true, 'q"']}|tojson }} {{ {'b': 1, 'a': 2}|tojson(indent=2) }} {{ {'b': 1, 'a': 2}|tojson(sort_keys=true) }} {{ [1,2]|tojson(separators=(',', ':')) }})J",
     R"J({"b": 1, "a": [1, 2.5, null, true, "q\""]} {
  "b": 1,
  "a": 2
} {"a": 2, "b": 1} [1,2])J"},
    {R"J({{ 'éß日本'|length }} {{ 'é'|tojson }} {{ '\u00e9'|tojson }} {{ 'a\nb\t\\'|tojson }})J",
     R"J(4 "é" "é" "a\nb\t\\")J"},
    {R"J({{ x|default('d') }} {{ ''|default('e', true) }} {{ none|default('f') }} {{ [1,2]|first }} {{ [1,2]|last }} {{ 'abc'|list }})J",
     R"J(d e None 1 2 ['a', 'b', 'c'])J"},
    {R"J({{ 'a-b-c'.split('-') }} {{ ' x y '.split() }} {{ 'abc'.startswith('ab') }} {{ 'abc'.endswith(('x', 'c')) }} {{ '  s '.strip() }} {{ 'xxhixx'.strip('x') }} {{ 'hi there'.title() }} {{ 'a.b'.replace('.', '!') }})J",
     R"J(['a', 'b', 'c'] ['x', 'y'] True True s hi Hi There a!b)J"},
    {R"J({{ '{} and {name}'.format(1, name='two') }} {{ '%s is %d' % ('x', 3) }} {{ '%s-%s'|format('a', 'b') }})J",
     R"J(1 and two x is 3 a-b)J"},
    {R"J({{ 7 // 2 }} {{ -7 // 2 }} {{ 7 % 3 }} {{ -7 % 3 }} {{ 2 ** 8 }} {{ 7 / 2 }} {{ 1 + 2.5 }} {{ 10 / 5 }} {{ 1e20 }} {{ 0.1 + 0.2 }} {{ 1.0 }} {{ -0.00001 }})J",
     R"J(3 -4 1 2 256 3.5 3.5 2.0 1e+20 0.30000000000000004 1.0 -1e-05)J"},
    {R"J({{ [1, 'a', none, true, 2.0, {'k': ('t', 1)}] }} {{ (1,) }} {{ "it's" }} {{ ["it's"] }})J",
     R"J([1, 'a', None, True, 2.0, {'k': ('t', 1)}] (1,) it's ["it's"])J"},
    {R"J({{ 'x'|int }} {{ '42'|int }} {{ '4.7'|int }} {{ 3.9|int }} {{ '2.5'|float }} {{ 5|string ~ 'a' }} {{ 12345|string|length }})J",
     R"J(0 42 4 3 2.5 5a 5)J"},
    {R"J({{ 'line1\nline2\n\nline4'|indent(2) }}|{{ 'a\nb'|indent(2, true) }})J",
     R"J(line1
  line2

  line4|  a
  b)J"},
    {R"J({{ {'a': 1}.get('a') }} {{ {'a': 1}.get('b', 'none') }} {{ {'a': 1, 'b': 2}.keys()|list }} {{ {'a': 1, 'b': 2}.values()|list }} {{ {'a': 1}|items|list }})J",
     R"J(1 none ['a', 'b'] [1, 2] [('a', 1)])J"},
    {R"J({% set a, b = 1, 2 %}{{ a }}{{ b }} {% set d = dict(x=1, y=2) %}{{ d.x + d['y'] }})J",
     R"J(12 3)J"},
    {R"J({% raw %}{{ not rendered }}{% endraw %})J",
     R"J({{ not rendered }})J"},
    {R"J({# comment #}
{% if true %}
line
{% endif %}
)J",
     R"J(line
)J"},
    {R"J({{ messages[0].content }} {{ messages[0]['role'] }} {{ messages|length }} {{ messages[5] is defined }})J",
     R"J(Hi user 1 False)J"},
    {R"J({%+ if true %}  keep{% endif %}
  {%+ if true %}x{% endif %})J",
     R"J(  keep  x)J"},
    {R"J({% for i in range(3) %}{{ loop.cycle('a', 'b') }}{% endfor %})J",
     R"J(aba)J"},
    {R"J({{ range(2, 10, 3)|list }} {{ [[1, 2], [3]]|map('length')|list }} {{ 'abc'|reverse }} {{ [1,2]|reverse|list }})J",
     R"J([2, 5, 8] [2, 1] cba [2, 1])J"},
    {R"J({% with x = 5 %}{{ x }}{% endwith %}{{ x }})J",
     R"J(5)J"},
    {R"J({{ 'Hello' if messages else 'none' }}{% if messages[0].missing is not defined %} nomissing{% endif %})J",
     R"J(Hello nomissing)J"},
};

TEST(JinjaSemantics, SmallTemplatesRenderLikeJinja2) {
  for (const Case& c : kCases) {
    ChatTemplateInputs in;
    in.messages = nlohmann::ordered_json::parse(R"([{"role": "user", "content": "Hi"}])");
    const auto out = apply_chat_template(c.source, in);
    ASSERT_TRUE(out.ok()) << c.source << "\n" << out.error().message;
    EXPECT_EQ(*out, c.expected) << "template: " << c.source;
  }
}

}  // namespace
}  // namespace cria::chat
