using System.Text.Json.Nodes;
using XenIac.Core;
using XenIac.Core.SaveFiles;
using XenIac.Core.Streams;

namespace XenIac.Cli.Commands.Savefile;

/// <summary>What the <c>savefile</c> commands print: the text lines and the JSON shapes scripts rely on.</summary>
internal static class SavefileRendering
{
    /// <summary><c>savefile inspect</c> as text.</summary>
    public static void WriteInspect(SaveFileHeader h, ImageVerification image, string path)
    {
        var node = Describe(h, path);
        Console.Out.WriteLine($"format:               {node["format"]}");
        if (h.Format == SaveFileFormat.Xl)
        {
            Console.Out.WriteLine($"byte order:           {node["byteOrder"]}");
            var names = SaveFileHeader.DescribeMandatoryFlags(h.MandatoryFlags);
            Console.Out.WriteLine($"mandatory flags:      0x{h.MandatoryFlags:x}{(names.Count > 0 ? $" ({string.Join(", ", names)})" : "")}");
            Console.Out.WriteLine($"optional flags:       0x{h.OptionalFlags:x}");
            Console.Out.WriteLine($"optional data length: {h.OptionalDataLength}");
            Console.Out.WriteLine($"config:               {node["configFormat"]}, {h.ConfigLength} bytes" +
                                  (node["configProblem"] is { } problem ? $"; does not read: {CommandLine.OneLine(problem.GetValue<string>())}" : ""));
            Console.Out.WriteLine($"extension:            {h.Extension.Length} bytes");
            Console.Out.WriteLine($"integrity:            {IntegrityLine(h)}");
            if (h.Fingerprint is { } fingerprint) Console.Out.WriteLine($"fingerprint:          {fingerprint} (of the inputs it was made from)");
            Console.Out.WriteLine($"image stream:         {(h.IsStreamV2 ? "v2" : "pre-v2 (legacy libxc format)")}");
        }
        Console.Out.WriteLine($"image offset:         {h.ImageOffset}");
        Console.Out.WriteLine($"image:                {ImageLine(image)}");
    }

    /// <summary><c>savefile inspect --json</c>: the header fields with the image under "image".</summary>
    public static JsonObject InspectJson(SaveFileHeader h, ImageVerification image, string path)
    {
        var node = Describe(h, path);
        node["image"] = DescribeImage(image);
        return node;
    }

    /// <summary>The image fields of <c>savefile verify --json</c> and of <c>inspect --json</c>'s "image" object.</summary>
    public static JsonObject DescribeImage(ImageVerification result)
    {
        var s = result.Summary;
        var node = new JsonObject
        {
            ["valid"] = result.IsValid,
            ["status"] = result.Status switch
            {
                ImageVerificationStatus.Valid => "valid",
                ImageVerificationStatus.NotVerified => "not-verified",
                _ => "invalid",
            },
            ["guestType"] = s.GuestType == GuestType.Unknown ? null : s.GuestType.ToString(),
            ["pageShift"] = s.PageShift,
            ["pages"] = s.Pages,
            ["pagesByType"] = ToJson(s.PagesByType),
            ["records"] = ToJson(s.Records),
            ["vcpus"] = s.VCpus,
            ["checkpoints"] = s.Checkpoints,
            ["xenVersion"] = s.XenVersion,
            ["libxcVersion"] = s.LibxcVersion == 0 ? null : s.LibxcVersion,
        };
        if (result.Problem is { } p)
            node["error"] = new JsonObject { ["message"] = p.Message, ["offset"] = p.Offset, ["recordIndex"] = p.RecordIndex };
        return node;
    }

    private static JsonObject ToJson(IReadOnlyDictionary<string, long> counts)
    {
        var o = new JsonObject();
        foreach (var (k, v) in counts) o[k] = v;
        return o;
    }

    /// <summary>One line about the image: what guest it holds, or why it is not valid.</summary>
    public static string ImageLine(ImageVerification r)
    {
        var s = r.Summary;
        if (r.Status == ImageVerificationStatus.NotVerified) return r.Problem!.Message;
        var what = $"{s.GuestType} guest from Xen {s.XenVersion}, {s.VCpus} vCPU{(s.VCpus == 1 ? "" : "s")}, " +
                   $"{s.Pages} pages of {(1 << s.PageShift) / 1024} KiB, {s.RecordCount} records, {s.Checkpoints} checkpoints";
        return r.IsValid ? what : $"invalid: {r.Problem}";
    }

    /// <summary>The integrity record as <c>inspect</c> prints it: the record, "none", or why it cannot be read.</summary>
    public static string IntegrityLine(SaveFileHeader h) =>
        h.Integrity is { } record ? $"{record} (not checked; 'savefile verify --integrity' does)"
        : h.IntegrityError is { } error ? $"malformed: {error.Message}"
        : "none";

    /// <summary>A record as JSON: algorithm, image length, digest in hex.</summary>
    public static JsonObject DescribeIntegrity(SaveFileIntegrity record) => new()
    {
        ["algorithm"] = "sha256",
        ["imageLength"] = record.ImageLength,
        ["digest"] = record.DigestHex,
    };

    /// <summary>The "integrity" object of <c>savefile verify --integrity --json</c>.</summary>
    public static JsonObject DescribeIntegrityCheck(SaveFileIntegrityResult? check)
    {
        if (check is null) return new JsonObject { ["valid"] = false, ["status"] = "not-checked" };
        return new JsonObject
        {
            ["valid"] = check.IsValid,
            ["status"] = check.Status switch
            {
                SaveFileIntegrityStatus.Match => "match",
                SaveFileIntegrityStatus.Mismatch => "mismatch",
                SaveFileIntegrityStatus.NoRecord => "no-record",
                _ => "malformed",
            },
            ["expected"] = check.Expected is { } e ? DescribeIntegrity(e) : null,
            ["actual"] = DescribeIntegrity(check.Actual),
            ["message"] = check.Problem,
        };
    }

    /// <summary>Why <c>savefile convert</c> refuses, in the words of its options.</summary>
    public static string Refusal(SaveFileConversionRefusal refusal, string source) => refusal switch
    {
        SaveFileConversionRefusal.SourceAlreadyLegacy => $"'{source}' is not an xl savefile; nothing to convert to legacy",
        SaveFileConversionRefusal.ConfigWithLegacyTarget => "--config has no meaning for --to legacy: the legacy format stores no config",
        SaveFileConversionRefusal.ConfigRequired => $"'{source}' has no xl header (legacy format): give its config with --config",
        _ => throw new ArgumentOutOfRangeException(nameof(refusal), refusal, null),
    };

    /// <summary>The last line of <c>savefile convert</c>.</summary>
    public static string WroteLine(string where, SaveFileHeader written) =>
        $"wrote {where} ({(written.Format == SaveFileFormat.Legacy ? "legacy" : "xl")} format, image at offset {written.ImageOffset})";

    /// <summary>
    /// Why the stored config does not read as the domain config it claims to be (xl restore of the file would fail
    /// before touching the guest, unless given another config); null when it reads or there is none.
    /// </summary>
    public static string? StoredConfigProblem(SaveFileHeader h, string path)
    {
        if (h.Format == SaveFileFormat.Legacy || h.ConfigFormat == SaveFileConfigFormat.None) return null;
        try
        {
            Core.Config.ConfigText.FromSavefile(h, path).ToModel();
            return null;
        }
        catch (XenIacException e) { return e.Message; }
    }

    /// <summary>The header fields of <c>savefile inspect --json</c> (the contract scripts rely on).</summary>
    public static JsonObject Describe(SaveFileHeader h, string path) => new()
    {
        ["format"] = h.Format == SaveFileFormat.Legacy ? "legacy" : "xl",
        ["byteOrder"] = h.Format == SaveFileFormat.Legacy ? null : h.ByteOrder == SaveFileByteOrder.LittleEndian ? "little" : "big",
        ["mandatoryFlags"] = h.MandatoryFlags,
        ["mandatoryFlagNames"] = new JsonArray(SaveFileHeader.DescribeMandatoryFlags(h.MandatoryFlags).Select(n => (JsonNode)n!).ToArray()),
        ["optionalFlags"] = h.OptionalFlags,
        ["optionalDataLength"] = h.OptionalDataLength,
        ["configFormat"] = h.ConfigFormat switch
        {
            SaveFileConfigFormat.Json => "json",
            SaveFileConfigFormat.XlCfg => "xl",
            _ => "none",
        },
        ["configLength"] = h.ConfigLength,
        ["configProblem"] = StoredConfigProblem(h, path),
        ["extensionLength"] = h.Extension.Length,
        ["integrity"] = h.Integrity is { } record ? DescribeIntegrity(record)
            : h.IntegrityError is { } error ? new JsonObject { ["error"] = error.Message, ["offset"] = error.Offset } : null,
        ["fingerprint"] = h.Fingerprint,
        ["streamV2"] = h.IsStreamV2,
        ["imageOffset"] = h.ImageOffset,
    };
}
