using System.Text;
using CsCheck;
using XenIac.Core.Config;

namespace XenIac.Core.Tests.Config;

public sealed class XlConfigTests
{
    public static TheoryData<string> ValidHandWritten()
    {
        var data = new TheoryData<string>();
        foreach (var (name, text) in XlConfigCorpus.HandWritten())
        {
            try { XlConfig.Parse(text); data.Add(name); }
            catch (XlConfigException) { }
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(ValidHandWritten))]
    public void Every_valid_example_prints_back_byte_for_byte(string name)
    {
        var bytes = XlText.Encode(XlConfigCorpus.HandWritten().Single(c => c.Name == name).Text);
        Assert.Equal(bytes, XlConfig.Parse(bytes).ToBytes());
    }

    [Fact]
    public void Generated_configs_round_trip_byte_exactly() =>
        Gen.Int.Select(seed => XlConfigCorpus.Config(new Random(seed))).Sample(text =>
        {
            XlConfig cfg;
            try { cfg = XlConfig.Parse(text); }
            catch (XlConfigException) { return; } // a generated '+=' mixing list and string
            Assert.Equal(text, cfg.ToString());
        }, iter: 2000);

    [Fact]
    public void Setting_a_generated_config_key_changes_only_that_statement() =>
        Gen.Int.Select(seed => (Text: XlConfigCorpus.Config(new Random(seed)), Pick: seed)).Sample(t =>
        {
            XlConfig cfg;
            try { cfg = XlConfig.Parse(t.Text); }
            catch (XlConfigException) { return; }
            if (cfg.Keys.Count == 0) return;
            var key = cfg.Keys[Math.Abs(t.Pick % cfg.Keys.Count)];
            var last = cfg.Statements.Last(s => s.Key == key);
            var edited = cfg.Set(key, XlValue.String("new value"));

            Assert.Equal(new XlString("new value"), edited.Get(key));
            foreach (var other in cfg.Keys.Where(k => k != key)) Assert.Equal(cfg.Get(other), edited.Get(other));
            // Spans are byte offsets: compare bytes before the statement and after its value.
            var before = cfg.ToBytes();
            var after = edited.ToBytes();
            Assert.Equal(before[..last.Span.Start], after[..last.Span.Start]);
            var tail = before[last.Span.ValueEnd..];
            Assert.Equal(tail, after[^tail.Length..]);
        }, iter: 1000);

    [Fact]
    public void Removing_or_appending_in_generated_configs_touches_only_that_key() =>
        Gen.Int.Select(seed => (Text: XlConfigCorpus.Config(new Random(seed)), Pick: seed)).Sample(t =>
        {
            XlConfig cfg;
            try { cfg = XlConfig.Parse(t.Text); }
            catch (XlConfigException) { return; }
            if (cfg.Keys.Count == 0) return;
            var key = cfg.Keys[Math.Abs(t.Pick % cfg.Keys.Count)];
            var removed = cfg.Remove(key);
            Assert.False(removed.Contains(key));
            foreach (var other in cfg.Keys.Where(k => k != key)) Assert.Equal(cfg.Get(other), removed.Get(other));

            if (cfg.Statements.Last(s => s.Key == key).Value is XlList list)
            {
                var appended = cfg.Append(key, XlValue.String("extra"));
                var expected = cfg.Get(key) is XlList effective ? effective.Items.Append(new XlString("extra")) : null;
                Assert.Equal(expected, ((XlList)appended.Get(key)!).Items);
                foreach (var other in cfg.Keys.Where(k => k != key)) Assert.Equal(cfg.Get(other), appended.Get(other));
            }
        }, iter: 1000);

    [Theory]
    [InlineData("a = 010", 8L)]
    [InlineData("a = 0x1f", 31L)]
    [InlineData("a = ' -12'", -12L)]
    [InlineData("a = 9223372036854775807", long.MaxValue)]
    [InlineData("a = '-9223372036854775808'", long.MinValue)]
    public void Numbers_read_as_xl_reads_them(string text, long expected)
    {
        Assert.True(XlConfig.Parse(text).TryGetLong("a", out var value, out _));
        Assert.Equal(expected, value);
    }

    [Theory]
    [InlineData("a = 08", "octal")]
    [InlineData("a = 1e5", "not a valid number")]
    [InlineData("a = 9223372036854775808", "out of range")]
    [InlineData("a = '7 '", "not a valid number")]
    [InlineData("a = 1\na += 2", "+=")]
    [InlineData("a = [1]", "list")]
    public void Values_xl_cannot_read_as_numbers_say_why(string text, string reason)
    {
        Assert.False(XlConfig.Parse(text).TryGetLong("a", out _, out var error));
        Assert.Contains(reason, error);
    }

    [Fact]
    public void Xen_quirks_are_kept()
    {
        var cfg = XlConfig.Parse("a = 'x\\012y'\nb = 'p'\nb += 'q'\nc = [1]\nc += [2, [3]]\nd = 1\nd = 2\n#");
        Assert.Equal("xy", cfg.GetString("a")); // octal escapes swallow their digits and produce nothing
        Assert.Equal("pq", cfg.GetString("b"));
        Assert.Equal(XlValue.List(XlValue.String("1"), XlValue.String("2"), XlValue.List("3")), cfg.Get("c"));
        Assert.Equal(2, cfg.GetLong("d"));
        Assert.Equal(["a", "b", "c", "d"], cfg.Keys);
    }

    [Theory]
    [InlineData("a = 1\r\n", 1, 6, "carriage return")]
    [InlineData("a = 1\nMemory = 3\n", 2, 1, "lower case")]
    [InlineData("a = 1\n# end", 2, 1, "comment")]
    [InlineData("a = 0xFF\n", 1, 7, "hex digits only in lower case")]
    [InlineData("a = -1\n", 1, 5, "negative")]
    [InlineData("a = 'ok'\nb = 'é\\x41'\n", 2, 7, "\\x")]
    [InlineData("a = 'abc\n", 1, 5, "unterminated")]
    [InlineData("a = [1,,2]\n", 1, 8, "expected a value")]
    [InlineData("a = hello\n", 1, 5, "quote")]
    [InlineData("a = 1 b = 2\n", 1, 7, "new line or ';'")]
    [InlineData("a = 'x'\na += [1]\n", 2, 1, "can only add")]
    public void Rejected_configs_point_at_the_problem(string text, int line, int column, string words)
    {
        var e = Assert.Throws<XlConfigException>(() => XlConfig.Parse(text, "dom.cfg"));
        Assert.Equal(("dom.cfg", line, column), (e.File, e.Line, e.Column));
        Assert.Contains(words, e.Reason);
        Assert.StartsWith($"dom.cfg:{line}:{column}: ", e.Message);
    }

    [Fact]
    public void Set_replaces_only_the_value_and_keeps_comments_and_layout()
    {
        const string text = "# guest\nname = \"old\"   # the name\nmemory\t=\t32;vcpus=1\n";
        var edited = XlConfig.Parse(text).Set("name", XlValue.String("new")).Set("memory", XlValue.Number(64));
        Assert.Equal("# guest\nname = 'new'   # the name\nmemory\t=\t64;vcpus=1\n", edited.ToString());
    }

    [Fact]
    public void Remove_in_one_pass_equals_removing_the_statements_one_at_a_time() =>
        Gen.Int.Select(seed => (Text: XlConfigCorpus.Config(new Random(seed)).Replace("\n", seed % 3 == 0 ? "; " : "\n"), Pick: seed)).Sample(t =>
        {
            XlConfig cfg;
            try { cfg = XlConfig.Parse(t.Text); }
            catch (XlConfigException) { return; }
            if (cfg.Keys.Count == 0) return;
            var key = cfg.Keys[Math.Abs(t.Pick % cfg.Keys.Count)];
            Assert.Equal(RemoveOneAtATime(cfg, key).ToString(), cfg.Remove(key).ToString());
        }, iter: 3000);

    /// <summary>The reference: cut the key's last statement, read the text again, repeat.</summary>
    private static XlConfig RemoveOneAtATime(XlConfig cfg, string key)
    {
        while (cfg.Statements.LastOrDefault(s => s.Key == key) is { } statement)
        {
            var src = cfg.ToBytes();
            var span = statement.Span;
            var lineStart = span.Start == 0 ? 0 : Array.LastIndexOf(src, (byte)'\n', span.Start - 1) + 1;
            bool Blank(int i) => i < src.Length && src[i] is (byte)' ' or (byte)'\t';
            var indent = lineStart;
            while (Blank(indent)) indent++;
            var restOfLine = span.End;
            while (Blank(restOfLine)) restOfLine++;
            (int, int) range;
            if (indent == span.Start)
                range = span.EndsWithNewline ? (lineStart, span.End)
                    : restOfLine >= src.Length ? (lineStart, restOfLine)
                    : src[restOfLine] == (byte)'\n' ? (lineStart, restOfLine + 1)
                    : (span.Start, restOfLine);
            else if (span.EndsWithNewline)
            {
                var cut = span.ValueEnd;
                while (Blank(cut)) cut++;
                var start = span.Start;
                while (start > lineStart && Blank(start - 1)) start--;
                range = (start, cut);
            }
            else range = (span.Start, restOfLine);
            cfg = XlConfig.Parse([.. src[..range.Item1], .. src[range.Item2..]]);
        }
        return cfg;
    }

    [Fact]
    public void Set_of_an_addition_makes_it_an_assignment_and_new_keys_go_last()
    {
        var edited = XlConfig.Parse("extra = 'a'\nextra += ' b'").Set("extra", XlValue.String("c")).Set("vcpus", XlValue.Number(2));
        Assert.Equal("extra = 'a'\nextra = 'c'\nvcpus = 2\n", edited.ToString());
        Assert.Equal("c", edited.GetString("extra"));
    }

    [Theory]
    [InlineData("a = 1\nb = 2\nc = 3\n", "b", "a = 1\nc = 3\n")]
    [InlineData("a = 1; b = 2; c = 3\n", "b", "a = 1; c = 3\n")]
    [InlineData("a = 1; b = 2\n", "b", "a = 1;\n")]
    [InlineData("b = [\n 1,\n 2,\n] # list\na = 1\n", "b", "a = 1\n")]
    [InlineData("b = 1\na = 2\nb += 3\n", "b", "a = 2\n")]
    [InlineData("a = 1\nb = 2", "b", "a = 1\n")]
    public void Remove_takes_the_statements_and_their_lines(string text, string key, string expected) =>
        Assert.Equal(expected, XlConfig.Parse(text).Remove(key).ToString());

    [Theory]
    [InlineData("vif = [ 'a', 'b' ]\n", "vif = [ 'a', 'b', 'c' ]\n")]
    [InlineData("vif = [ 'a', ]\n", "vif = [ 'a', 'c', ]\n")]
    [InlineData("vif = []\n", "vif = ['c']\n")]
    [InlineData("vif = [\n    'a',\n    'b',\n]\n", "vif = [\n    'a',\n    'b',\n    'c',\n]\n")]
    [InlineData("vif = [\n  'a'\n]\n", "vif = [\n  'a',\n  'c'\n]\n")]
    [InlineData("name = 'x'\n", "name = 'x'\nvif = [ 'c' ]\n")]
    public void Append_keeps_the_list_layout(string text, string expected) =>
        Assert.Equal(expected, XlConfig.Parse(text).Append("vif", XlValue.String("c")).ToString());

    [Fact]
    public void Written_strings_read_back_as_the_same_text()
    {
        Gen.String.Where(s => !s.Contains('\0')).Sample(s =>
        {
            var cfg = XlConfig.Parse("").Set("a", XlValue.String(s));
            Assert.Equal(s, XlConfig.Parse(cfg.ToBytes()).GetString("a"));
        }, iter: 1000);
    }
}
