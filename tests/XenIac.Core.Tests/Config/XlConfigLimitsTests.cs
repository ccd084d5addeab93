using System.Text;
using XenIac.Core.Config;
using XenIac.Core.SaveFiles;

namespace XenIac.Core.Tests.Config;

/// <summary>
/// Input nobody here wrote: nesting at and past Xen's limit, sizes that used to cost quadratic work, NUL bytes
/// and strings that are not UTF-8. Linear-time tests count work (column steps or allocated bytes) at n and 10n.
/// </summary>
public sealed class XlConfigLimitsTests
{
    private static string Nested(int depth, string bottom = "") => "x = " + new string('[', depth) + bottom + new string(']', depth) + "\n";

    /// <summary>Runs <paramref name="work"/> on a thread with a small stack: recursion per level would overflow it.</summary>
    private static void OnSmallStack(Action work)
    {
        Exception? failure = null;
        var thread = new Thread(() =>
        {
            try { work(); }
            catch (Exception e) { failure = e; }
        }, maxStackSize: 256 * 1024);
        thread.Start();
        thread.Join();
        if (failure is not null) throw new Xunit.Sdk.XunitException($"failed on the small stack: {failure}");
    }

    [Fact]
    public void Lists_nest_as_deep_as_xl_reads_them_and_not_one_level_deeper()
    {
        var cfg = XlConfig.Parse(Nested(XlLimits.MaxFirstItemNesting, "'z'"));
        var depth = 0;
        for (XlValue v = cfg.Get("x")!; v is XlList l; v = l.Items.Single()) depth++;
        Assert.Equal(XlLimits.MaxFirstItemNesting, depth);

        var e = Assert.Throws<XlConfigException>(() => XlConfig.Parse(Nested(XlLimits.MaxFirstItemNesting + 1), "deep.cfg"));
        Assert.Equal(1, e.Line);
        Assert.Equal("x = ".Length + XlLimits.MaxFirstItemNesting + 1 + 1, e.Column); // at the first ']'
        Assert.StartsWith("deep.cfg:1:", e.Message);
        Assert.Contains("nested too deeply", e.Reason);
    }

    [Fact]
    public void A_million_levels_fail_cleanly_even_on_a_small_stack() => OnSmallStack(() =>
    {
        var e = Assert.Throws<XlConfigException>(() => XlConfig.Parse("a = 1\n" + Nested(1_000_000)));
        Assert.Equal(2, e.Line);
        Assert.Contains("nested too deeply", e.Reason);
    });

    [Fact]
    public void The_deepest_list_xl_reads_goes_through_model_printing_and_comparison_on_a_small_stack() => OnSmallStack(() =>
    {
        var text = "name = 'deep'\nmemory = 64\n" + Nested(XlLimits.MaxFirstItemNesting, "'z'");
        var cfg = XlConfig.Parse(text);
        var value = cfg.Get("x")!;
        Assert.Equal(value, XlConfig.Parse("x = " + value.ToXl()).Get("x"));
        Assert.NotEqual(value, XlConfig.Parse(Nested(XlLimits.MaxFirstItemNesting, "'y'")).Get("x"));
        Assert.NotEqual(value, XlConfig.Parse(Nested(XlLimits.MaxFirstItemNesting - 1, "'z'")).Get("x"));
        _ = value.GetHashCode();
        var model = DomainConfig.FromXl(cfg);
        Assert.Equal(value, model.ToXlConfig(out _).Get("x"));
    });

    [Fact]
    public void A_savefile_storing_a_too_deep_config_is_a_located_config_error_not_a_crash() => OnSmallStack(() =>
    {
        var bytes = SaveFileHeader.Create("name = 'a'\n" + Nested(200_000), SaveFileConfigFormat.XlCfg).ToBytes();
        var header = SaveFileHeader.Read(new MemoryStream(bytes));
        var source = new ConfigText(header.ConfigText!, header.ConfigFormat) { Source = "dom.xlsave", IsSavefile = true };
        var e = Assert.Throws<XlConfigException>(source.ToModel);
        Assert.Equal("dom.xlsave (stored config)", e.File);
        Assert.Equal(2, e.Line);
    });

    // ---- Linear work ----

    private static void AssertLinear(string what, Func<int, long> work, int n)
    {
        work(n / 10); // warm up: first calls allocate caches the counts should not see
        var small = work(n);
        var large = work(10 * n);
        Assert.True(small > 0, $"{what}: nothing counted");
        Assert.True(large < 20 * small, $"{what}: {small} at n={n}, {large} at 10n ({(double)large / small:F1}x)");
    }

    private static long Allocated(Action action)
    {
        var before = GC.GetAllocatedBytesForCurrentThread();
        action();
        return GC.GetAllocatedBytesForCurrentThread() - before;
    }

    [Fact]
    public void A_long_one_line_list_costs_column_work_linear_in_its_length() =>
        AssertLinear("column steps", n =>
        {
            var text = "disk = [ " + string.Join(", ", Enumerable.Range(0, n).Select(i => $"'phy:/dev/vg/é{i},xvda,w'")) + " ]\n";
            XlConfigParser.ColumnSteps = 0;
            Assert.Equal(n, XlConfig.Parse(text).GetList("disk")!.Items.Count);
            return XlConfigParser.ColumnSteps;
        }, 2_000);

    // ---- XenIac's own bound on values (ConfigLimits) ----

    [Fact]
    public void An_xl_config_holds_at_most_MaxValues_values_and_stops_reading_at_the_next()
    {
        // Settings, list items and the lists themselves all count: 1 + 1 list + (MaxValues - 3) items + 1 = MaxValues.
        var items = ConfigLimits.MaxValues - 3;
        var full = "a = 1\nb = [" + string.Join(',', Enumerable.Repeat("1", items)) + "]\nc = 2\n";
        Assert.Equal(items, XlConfig.Parse(full).GetList("b")!.Items.Count);

        var over = full + "d = 3\n";
        var e = Assert.Throws<XlConfigException>(() => XlConfig.Parse(over));
        Assert.Contains($"more than {ConfigLimits.MaxValues:N0} values", e.Message);
        Assert.Equal(4, e.Line);
        // 16 MiB of the cheapest settings: refused after the limit, without holding millions of them (900 MB before).
        var huge = Encoding.ASCII.GetBytes(string.Concat(Enumerable.Repeat("a=1\n", 4_000_000)));
        var allocated = Allocated(() => Assert.Throws<XlConfigException>(() => XlConfig.Parse(huge)));
        Assert.True(allocated < 200L << 20, $"allocated {allocated >> 20} MiB");
    }

    [Fact]
    public void A_json_config_holds_at_most_MaxValues_values_and_names_where_the_next_one_is()
    {
        // The root object, c_info, name, b_info, the array: 5 values before the items.
        string Json(int items) => "{\"c_info\":{\"name\":\"x\"},\"b_info\":{},\"x\":[" + string.Join(',', Enumerable.Repeat("1", items)) + "]}";
        var e = Assert.Throws<XlConfigException>(() => DomainConfig.FromJson(Json(ConfigLimits.MaxValues - 4)));
        Assert.Contains($"more than {ConfigLimits.MaxValues:N0} values", e.Message);
        Assert.Contains($"$.x[{ConfigLimits.MaxValues - 5}]", e.Message);
        // One fewer is read.
        Assert.Equal("x", DomainConfig.FromJson(Json(ConfigLimits.MaxValues - 5)).Name);
    }

    [Fact]
    public void A_one_line_libxl_json_config_costs_column_work_linear_in_its_length() =>
        // Every value's line and column are found as the tokens pass; from each line's start, this was quadratic.
        AssertLinear("JSON column steps", n =>
        {
            var json = "{\"c_info\":{\"name\":\"x\",\"type\":\"pv\"},\"b_info\":{},\"disks\":[" +
                       string.Join(',', Enumerable.Range(0, n).Select(i => $"{{\"vdev\":\"xvd{i}\",\"pdev_path\":\"/é/{i}\"}}")) + "]}";
            DomainConfig.JsonColumnSteps = 0;
            try { DomainConfig.FromJson(json); }
            catch (XlConfigException) { } // what the model thinks of the disks does not matter here, only the reading
            return DomainConfig.JsonColumnSteps;
        }, 2_000);

    [Fact]
    public void Many_additions_to_one_list_or_string_allocate_linearly()
    {
        AssertLinear("list +=", n =>
        {
            var text = "a = []\n" + string.Concat(Enumerable.Repeat("a += [ 'x', 'y' ]\n", n));
            return Allocated(() => Assert.Equal(2 * n, ((XlList)XlConfig.Parse(text).Get("a")!).Items.Count));
        }, 2_000);
        AssertLinear("string +=", n =>
        {
            var text = "a = ''\n" + string.Concat(Enumerable.Repeat("a += 'xyz'\n", n));
            return Allocated(() => Assert.Equal(3 * n, XlConfig.Parse(text).GetString("a")!.Length));
        }, 2_000);
    }

    [Fact]
    public void A_disk_spec_with_many_commas_or_prefixes_allocates_linearly()
    {
        AssertLinear("disk spec commas", n =>
        {
            var spec = string.Concat(Enumerable.Repeat("discard, ", n)) + "/dev/vg/a,raw,xvda,rw";
            return Allocated(() => Assert.Equal("xvda", DiskConfig.Parse(spec).Vdev));
        }, 2_000);
        AssertLinear("disk spec prefixes", n =>
        {
            var spec = string.Concat(Enumerable.Repeat("phy:", n)) + "/dev/vg/a,xvda,rw";
            return Allocated(() => Assert.Equal("/dev/vg/a", DiskConfig.Parse(spec).Target));
        }, 2_000);
    }

    [Fact]
    public void ToXlConfig_and_setting_many_keys_allocate_linearly()
    {
        static string Config(int n) => "name = 'a'\nmemory = 64\n" + string.Concat(Enumerable.Range(0, n).Select(i => $"k_{i} = 'value {i}'\n"));
        AssertLinear("ToXlConfig", n =>
        {
            var model = DomainConfig.FromXl(XlConfig.Parse(Config(n)));
            return Allocated(() => Assert.Equal($"value {n - 1}", model.ToXlConfig(out _).GetString($"k_{n - 1}")));
        }, 500);
        AssertLinear("Set many", n =>
        {
            var cfg = XlConfig.Parse(Config(n));
            var settings = Enumerable.Range(0, 2 * n).Select(i => KeyValuePair.Create($"k_{i}", (XlValue)XlValue.Number(i))).ToList();
            return Allocated(() => Assert.Equal(2 * n - 1, cfg.Set(settings).GetLong($"k_{2 * n - 1}")));
        }, 500);
    }

    [Fact]
    public void Removing_a_key_with_many_statements_allocates_linearly()
    {
        AssertLinear("Remove, statements on lines", n =>
        {
            var cfg = XlConfig.Parse(string.Concat(Enumerable.Range(0, n).Select(i => $"b = {i}\na += [ {i} ]\n")));
            return Allocated(() => Assert.Equal(n, cfg.Remove("a").Statements.Count));
        }, 500);
        AssertLinear("Remove, statements on one line", n =>
        {
            var cfg = XlConfig.Parse(string.Concat(Enumerable.Range(0, n).Select(i => $"a += 'x';  b = {i}; ")));
            return Allocated(() => Assert.Equal(n, cfg.Remove("a").Statements.Count));
        }, 500);
    }

    [Fact]
    public void A_large_stored_config_is_read_into_the_model_with_linear_allocation() =>
        AssertLinear("stored config", n =>
        {
            var text = "name = 'a'\nmemory = 64\ndisk = [ " + string.Join(", ", Enumerable.Range(0, n).Select(i => $"'/dev/vg/d{i},raw,xvd{i},rw'")) + " ]\n"
                + string.Concat(Enumerable.Range(0, n).Select(i => $"k_{i} = [ 'v', {i} ]\n"));
            var bytes = SaveFileHeader.Create(text, SaveFileConfigFormat.XlCfg).ToBytes();
            return Allocated(() =>
            {
                var header = SaveFileHeader.Read(new MemoryStream(bytes), new SaveFileReaderOptions { MaxOptionalDataLength = int.MaxValue });
                var model = new ConfigText(header.ConfigText!, header.ConfigFormat) { Source = "big.xlsave", IsSavefile = true }.ToModel();
                Assert.Equal(n, model.Disks.Count);
            });
        }, 300);

    // ---- NUL and bytes that are not UTF-8 ----

    [Fact]
    public void NUL_bytes_are_read_where_xl_reads_them()
    {
        Assert.Empty(XlConfig.Parse("\0").Keys); // one stray byte at the end of the file is dropped, NUL too
        Assert.Equal("1", XlConfig.Parse("a = 1 # x\0y\n").GetString("a"));
        Assert.Equal("1", XlConfig.Parse("a = 1 \0").GetString("a"));
        Assert.Throws<XlConfigException>(() => XlConfig.Parse("\0\0"));
        var e = Assert.Throws<XlConfigException>(() => XlConfig.Parse("a = 1\nb = 'x\0y'\n"));
        Assert.Equal((2, 7), (e.Line, e.Column));
        Assert.Contains("NUL", e.Reason);
    }

    [Fact]
    public void String_bytes_that_are_not_UTF8_survive_in_values_edits_and_the_model()
    {
        byte[] raw = [0xff, 0xc3, 0x28, 0xe2, 0x82, 0xed, 0xa0, 0x80];
        var bytes = (byte[])[.. "name = 'caf"u8, 0xe9, .. "'\na = '"u8, .. raw, .. "'\nmemory = 64\n"u8];
        var cfg = XlConfig.Parse(bytes);
        Assert.Equal(bytes, cfg.ToBytes());
        Assert.Equal(raw, XlText.Encode(cfg.GetString("a")));

        // Set writes the same bytes back, and leaves the other statements' bytes alone.
        var edited = cfg.Set("b", cfg.Get("a")!).Set("memory", XlValue.Number(128));
        Assert.Equal([.. bytes.AsSpan(0, bytes.Length - "memory = 64\n".Length), .. "memory = 128\nb = '"u8, .. raw, .. "'\n"u8], edited.ToBytes());

        // Through the model and back to xl.cfg.
        var model = DomainConfig.FromXl(cfg);
        var back = model.ToXlConfig(out _);
        Assert.Equal((byte[])[.. "caf"u8, 0xe9], XlText.Encode(back.GetString("name")));
        Assert.Equal(raw, XlText.Encode(back.GetString("a")));
        Assert.Equal(cfg.Get("a"), XlConfig.Parse(back.ToString()).Get("a"));
    }

    [Fact]
    public void XlText_decoding_then_encoding_gives_back_any_bytes()
    {
        var rng = new Random(XlConfigCorpus.Seed);
        for (var i = 0; i < 2000; i++)
        {
            var bytes = new byte[rng.Next(0, 40)];
            rng.NextBytes(bytes);
            if (i % 2 == 0) for (var j = 0; j < bytes.Length; j++) if (rng.Next(3) == 0) bytes[j] &= 0x7f;
            Assert.Equal(bytes, XlText.Encode(XlText.Decode(bytes)));
        }
        Assert.Equal("grüße €", XlText.Decode(Encoding.UTF8.GetBytes("grüße €")));
        Assert.Equal("\uDCFF", XlText.Decode([0xff]));
    }
}
