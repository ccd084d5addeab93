using XenIac.Core;
using System.Text;
using XenIac.Core.Config;
using XenIac.Core.SaveFiles;
using XenIac.Core.Streams;

namespace XenIac.Fuzz;

/// <summary>
/// Savefile header and optional data: <see cref="SaveFileReader"/> over a seekable and an unseekable source, in
/// lenient and strict mode. A header that reads must write back to exactly the bytes it was read from.
/// </summary>
public sealed class SavefileTarget : FuzzTarget
{
    public override string Name => "savefile";
    public override IReadOnlyList<Type> Documented { get; } = [typeof(XenFormatException)];

    public override void Run(byte[] input, WorkMeter meter)
    {
        foreach (var (seekable, strict) in new[] { (true, false), (false, false), (true, true) })
            Pass(() => ReadOnce(input, seekable, strict, meter));
    }

    private static void ReadOnce(byte[] input, bool seekable, bool strict, WorkMeter meter)
    {
        using var reader = SaveFileReader.Open(new CountingStream(input, seekable, meter),
            strict ? new SaveFileReaderOptions { Strict = true } : null);
        var h = reader.Header;
        meter.Add((h.ConfigText?.Length ?? 0) + h.ConfigContent.Length + h.Extension.Length);
        _ = SaveFileHeader.DescribeMandatoryFlags(h.MandatoryFlags);
        IntegrityRoundTrips(h, meter);

        var written = new MemoryStream();
        SaveFileWriter.WriteHeader(written, h);
        meter.Add(written.Length);
        if (written.Length != reader.ImageOffset || !written.ToArray().AsSpan().SequenceEqual(input.AsSpan(0, (int)reader.ImageOffset)))
            throw new FuzzInvariantException($"the header read ({reader.ImageOffset} bytes) writes back as {written.Length} different bytes");
        _ = reader.ResolveConfig(); // no stored config: XenFormatException, documented
    }

    /// <summary>
    /// The integrity record in the extension: found, absent or malformed, never a crash; a record put in reads back
    /// as itself, and taking it out again leaves the other extension bytes as they were (a malformed block goes too).
    /// </summary>
    private static void IntegrityRoundTrips(SaveFileHeader h, WorkMeter meter)
    {
        _ = h.Integrity;
        _ = h.IntegrityError;
        var record = new SaveFileIntegrity(12345, System.Security.Cryptography.SHA256.HashData(h.Extension.Span));
        var sealedHeader = h.WithIntegrity(record);
        var bytes = sealedHeader.ToBytes();
        meter.Add(bytes.Length);
        var reread = SaveFileHeader.Read(new MemoryStream(bytes));
        if (!record.Equals(reread.Integrity))
            throw new FuzzInvariantException($"a header given an integrity record reads back with {reread.Integrity?.ToString() ?? reread.IntegrityError?.Message ?? "none"}");
        var unsealed = reread.WithIntegrity(null);
        if (unsealed.Integrity is not null || unsealed.IntegrityError is not null)
            throw new FuzzInvariantException("removing the integrity record left one behind");
        if (h.Integrity is not null && !unsealed.Equals(h.WithIntegrity(null)))
            throw new FuzzInvariantException("sealing then unsealing changed the other header bytes");
    }

    public override IEnumerable<byte[]> WarmUpInputs() => [SeedFactory.SmallSavefile(GuestType.HVM, 2, json: true)];
}

/// <summary>
/// The image stream: <see cref="ImageStreamVerifier"/> over the whole input (a savefile, or a bare image when it
/// has no savefile magic), then an <see cref="ImageStreamReader"/> walk that reads every body and page, each over
/// a seekable and an unseekable source.
/// </summary>
public sealed class ImageTarget : FuzzTarget
{
    public override string Name => "image";
    public override IReadOnlyList<Type> Documented { get; } = [typeof(XenFormatException)];

    public override void Run(byte[] input, WorkMeter meter)
    {
        var isSavefile = SaveFileHeader.LooksLikeXlSavefile(input);
        foreach (var seekable in new[] { true, false })
        {
            Pass(() => Verify(input, seekable, isSavefile, meter));
            Pass(() => Walk(input, seekable, isSavefile, meter));
        }
    }

    private static void Verify(byte[] input, bool seekable, bool isSavefile, WorkMeter meter)
    {
        var source = new CountingStream(input, seekable, meter);
        ImageVerification result;
        if (isSavefile)
        {
            using var saveFile = SaveFileReader.Open(source);
            result = SaveFileVerification.Verify(saveFile);
        }
        else
        {
            result = ImageStreamVerifier.Verify(source);
        }
        if (result.Status == ImageVerificationStatus.Invalid && result.Problem is null)
            throw new FuzzInvariantException("an invalid image without a problem");
        meter.Add(result.Problem?.Message.Length ?? 0);
    }

    private static void Walk(byte[] input, bool seekable, bool isSavefile, WorkMeter meter)
    {
        var source = new CountingStream(input, seekable, meter);
        using var saveFile = isSavefile ? SaveFileReader.Open(source) : null;
        using var reader = saveFile is null ? new ImageStreamReader(source) : saveFile.OpenImage();
        Span<byte> chunk = stackalloc byte[512];
        var records = 0;
        while (reader.MoveNext())
        {
            var record = reader.Current;
            records++;
            if (record.Is(LibxcRecordType.PageData))
            {
                foreach (var page in reader.ReadPages()) meter.Add(1 + page.Contents.Length / 64);
            }
            else if (records % 2 == 0)
            {
                meter.Add(reader.ReadBody().Length / 64); // the whole body at once, as the verifier and hosts do
            }
            else
            {
                while (reader.ReadBody(chunk) > 0) meter.Add(1); // piecewise; the rest is skipped on MoveNext
            }
        }
        _ = reader.HasTrailingData();
    }

    public override IEnumerable<byte[]> WarmUpInputs() =>
        [SeedFactory.SmallSavefile(GuestType.HVM, 2, json: true), SeedFactory.SmallSavefile(GuestType.PV, 2, json: false)];
}

/// <summary>
/// xl.cfg: <see cref="XlConfig"/> parse (must give back its bytes exactly), every key read as xl would, the
/// lossless editor's <see cref="XlConfig.Set"/> round trip, then the <see cref="DomainConfig"/> model and both
/// of its serializers, whose output must read back (the tool writes it, so it must never be rejected).
/// </summary>
public sealed class XlCfgTarget : FuzzTarget
{
    private const int MaxKeysEdited = 16;

    public override string Name => "xlcfg";
    public override IReadOnlyList<Type> Documented { get; } = [typeof(XlConfigException)];
    public override IReadOnlyList<byte[]> Tokens { get; } = Tokenize("=", "+=", "[", "]", ",", ";", "\"", "'", "\\", "#", "\n", "\r\n",
        " ", "0x", "-", "'\\x", "memory", "vcpus", "maxvcpus", "maxmem", "type", "builder", "disk", "vif", "name", "on_crash",
        "'hvm'", "'pv'", "'pvh'", "9223372036854775807", "4096", "0", "[[", "]]", "target=", "vdev=xvda", "mac=", "bridge=", "format=qcow2");

    public override void Run(byte[] input, WorkMeter meter)
    {
        var xl = XlConfig.Parse(input, "fuzz.cfg");
        meter.Add(xl.Statements.Count);
        if (!xl.ToBytes().AsSpan().SequenceEqual(input))
            throw new FuzzInvariantException("XlConfig.ToBytes differs from the bytes it was parsed from");

        foreach (var key in xl.Keys)
        {
            meter.Add(1);
            _ = xl.TryGetLong(key, out _, out _);
            try { _ = xl.GetString(key); }
            catch (XlConfigException) { } // a list where a string belongs: documented
        }

        // The editor: setting keys to the values they already have must keep those values, in memory and
        // re-parsed. One batched Set (what Set(key, value) calls with one pair) rewrites and re-reads the text
        // once; a Set per key re-read the whole input per key, 2 * MaxKeysEdited parses, which no per-byte
        // allocation bound can hold for a text of one-line statements.
        var keys = xl.Keys.Take(MaxKeysEdited).ToList();
        var values = keys.Select(k => KeyValuePair.Create(k, xl.Get(k)!)).ToList();
        var edited = xl.Set(values);
        var bytes = edited.ToBytes();
        meter.Add(bytes.Length);
        var reread = ReadOwnOutput(() => XlConfig.Parse(bytes, "edited.cfg"), "XlConfig.Set output");
        foreach (var (key, value) in values)
        {
            meter.Add(1);
            if (!Equals(edited.Get(key), value) || !Equals(reread.Get(key), value))
                throw new FuzzInvariantException($"Set('{key}', {Clip(value.ToXl())}) did not keep the value");
        }

        ModelRoundTrips(DomainConfig.FromXl(xl), meter);
    }

    /// <summary>The model's serializers must produce configs the model reads back.</summary>
    internal static void ModelRoundTrips(DomainConfig model, WorkMeter meter)
    {
        foreach (var (key, value) in model.ToSettings()) meter.Add(key.Length + value.Length);
        var xlText = model.ToXlConfig(out var notXl).ToBytes();
        meter.Add(xlText.Length + notXl.Count);
        ReadOwnOutput(() => DomainConfig.FromXl(XlConfig.Parse(xlText, "model.cfg")), "ToXlConfig output");
        var json = model.ToLibxlJson(out var notJson).ToJsonString();
        meter.Add(json.Length + notJson.Count);
        ReadOwnOutput(() => DomainConfig.FromJson(json, "model.json"), "ToLibxlJson output");
    }

    /// <summary>Output the tool wrote itself: even a documented rejection of it is a finding.</summary>
    internal static T ReadOwnOutput<T>(Func<T> read, string what)
    {
        try
        {
            return read();
        }
        catch (XlConfigException e)
        {
            throw new FuzzInvariantException($"{what} does not read back: {e.Message}");
        }
    }

    internal static string Clip(string s) => s.Length <= 80 ? s : s[..80] + "...";

    internal static byte[][] Tokenize(params string[] tokens) => [.. tokens.Select(Encoding.UTF8.GetBytes)];

    public override IEnumerable<byte[]> WarmUpInputs() =>
    [
        "name = 'w'\ntype = 'hvm'\nmemory = 8\nvcpus = 1\ndisk = [ '/x.img,raw,xvda,rw' ]\nvif = [ 'mac=00:16:3e:00:00:01,bridge=xenbr0' ]\n"u8.ToArray(),
    ];
}

/// <summary>libxl JSON: <see cref="DomainConfig.FromJson"/>, then the model's serializers, whose output must read back.</summary>
public sealed class JsonConfigTarget : FuzzTarget
{
    public override string Name => "json";
    public override IReadOnlyList<Type> Documented { get; } = [typeof(XlConfigException)];
    public override IReadOnlyList<byte[]> Tokens { get; } = XlCfgTarget.Tokenize("{", "}", "[", "]", ":", ",", "\"", "\\u0000", "\\",
        "null", "true", "false", "-0", "1e999", "18446744073709551616", "-1", "4096", "0.5", "\"c_info\"", "\"b_info\"", "\"type\"",
        "\"max_memkb\"", "\"target_memkb\"", "\"max_vcpus\"", "\"avail_vcpus\"", "\"disks\"", "\"nics\"", "\"hvm\"", "\"pv\"", "\"name\"",
        "\"pdev_path\"", "\"vdev\"", "\"mac\"", "\"on_crash\"", "\"vfbs\"", "\"pcidevs\"");

    public override void Run(byte[] input, WorkMeter meter)
    {
        var text = Encoding.UTF8.GetString(input);
        meter.Add(text.Length);
        XlCfgTarget.ModelRoundTrips(DomainConfig.FromJson(text, "fuzz.json"), meter);
    }

    public override IEnumerable<byte[]> WarmUpInputs() =>
    [
        """{"c_info":{"type":"hvm","name":"w"},"b_info":{"max_vcpus":1,"avail_vcpus":[0],"max_memkb":8192,"target_memkb":8192},"disks":[{"pdev_path":"/x.img","vdev":"xvda","format":"raw","readwrite":1}],"nics":[{"mac":"00:16:3e:00:00:01","bridge":"xenbr0"}]}"""u8.ToArray(),
    ];
}

/// <summary>Small valid savefiles made with the project's own writers (the seed corpora and the warm-up inputs).</summary>
public static class SeedFactory
{
    public static byte[] SmallSavefile(GuestType type, int pages, bool json, bool withConfig = true)
    {
        var d = new DomainImageDescription
        {
            GuestType = type,
            PageCount = pages,
            VCpus = 1,
            FillPage = (pfn, page) => page.Fill((byte)(pfn * 7 + 1)),
        };
        var name = type.ToString().ToLowerInvariant();
        var config = !withConfig ? null
            : json ? "{\"c_info\":{\"type\":\"" + name + "\",\"name\":\"seed\"},\"b_info\":{\"max_memkb\":" + (pages * 4) + "}}"
            : $"name = 'seed'\ntype = '{name}'\nmemory = 1\n";
        var header = SaveFileHeader.Create(config, json ? SaveFileConfigFormat.Json : SaveFileConfigFormat.XlCfg);
        using var ms = new MemoryStream();
        SaveFileWriter.WriteHeader(ms, header);
        ImageStreamWriter.Write(ms, d);
        return ms.ToArray();
    }

    public static byte[] BareImage(GuestType type, int pages)
    {
        using var ms = new MemoryStream();
        ImageStreamWriter.Write(ms, new DomainImageDescription { GuestType = type, PageCount = pages, FillPage = (pfn, page) => page.Fill((byte)pfn) });
        return ms.ToArray();
    }
}
