using System.Globalization;
using Microsoft.Build.Framework;
using TaskItem = Microsoft.Build.Utilities.TaskItem;
using XenIac.Core.SaveFiles;

namespace XenIac.MSBuild;

/// <summary>
/// Reads a savefile's header (never its image) and hands its facts to the build as output properties and as one
/// item with the same facts as metadata, so targets can branch on them, e.g.
/// <c>Condition="'%(Info.StreamV2)' == 'true'"</c>.
/// </summary>
public sealed class XenIacInspectSavefile : XenIacTask
{
    [Required] public string Savefile { get; set; } = "";

    /// <summary><c>Xl</c> (the only format with a header to inspect).</summary>
    [Output] public string? Format { get; set; }

    /// <summary><c>LittleEndian</c> or <c>BigEndian</c>.</summary>
    [Output] public string? ByteOrder { get; set; }

    /// <summary>The raw flag word in hex, as xen-iac prints it (<c>0x3</c>).</summary>
    [Output] public string? MandatoryFlags { get; set; }

    /// <summary>The set flags by name, <c>;</c>-separated (<c>CONFIG_JSON;STREAM_V2</c>).</summary>
    [Output] public string? MandatoryFlagNames { get; set; }

    /// <summary><c>None</c>, <c>XlCfg</c> or <c>Json</c>.</summary>
    [Output] public string? ConfigFormat { get; set; }

    /// <summary>From the stored config: JSON <c>c_info.name</c> or xl.cfg <c>name=</c>; empty when there is none.</summary>
    [Output] public string? DomainName { get; set; }

    [Output] public long ImageOffset { get; set; }

    [Output] public bool StreamV2 { get; set; }

    /// <summary>The inputs fingerprint the savefile records (<see cref="XenIacFingerprint"/>); empty when none.</summary>
    [Output] public string? Fingerprint { get; set; }

    /// <summary>The savefile (full path) with every fact above as metadata.</summary>
    [Output] public ITaskItem? Info { get; set; }

    private protected override Task ExecuteAsync(CancellationToken cancellationToken)
    {
        if (SavefilePath(Savefile) is not { } savefile) return Task.CompletedTask;
        Operation = $"Inspecting '{savefile}'";
        if (!IsReadableSavefile(savefile)) return Task.CompletedTask;

        SaveFileHeader header;
        using (var reader = SaveFileReader.Open(savefile))
            header = reader.Header;

        Format = header.Format.ToString();
        ByteOrder = header.ByteOrder.ToString();
        MandatoryFlags = "0x" + header.MandatoryFlags.ToString("x", CultureInfo.InvariantCulture);
        MandatoryFlagNames = string.Join(';', SaveFileHeader.DescribeMandatoryFlags(header.MandatoryFlags));
        ConfigFormat = header.ConfigFormat.ToString();
        DomainName = ConfigNames.Find(header.ConfigText, header.ConfigFormat) ?? "";
        ImageOffset = header.ImageOffset;
        StreamV2 = header.IsStreamV2;
        Fingerprint = header.Fingerprint ?? "";

        var item = new TaskItem(savefile);
        item.SetMetadata(nameof(Format), Format);
        item.SetMetadata(nameof(ByteOrder), ByteOrder);
        item.SetMetadata(nameof(MandatoryFlags), MandatoryFlags);
        item.SetMetadata(nameof(MandatoryFlagNames), MandatoryFlagNames);
        item.SetMetadata(nameof(ConfigFormat), ConfigFormat);
        item.SetMetadata(nameof(DomainName), DomainName);
        item.SetMetadata(nameof(ImageOffset), ImageOffset.ToString(CultureInfo.InvariantCulture));
        item.SetMetadata(nameof(StreamV2), StreamV2 ? "true" : "false");
        item.SetMetadata(nameof(Fingerprint), Fingerprint);
        item.SetMetadata("ConfigLength", header.ConfigLength.ToString(CultureInfo.InvariantCulture));
        Info = item;

        if (DomainName.Length == 0)
            LogCodedWarning(Strings.SavefileNamesNoDomain, savefile, ConfigFormat);
        Log.LogMessage(MessageImportance.Normal,
            "XenIac: {0}: {1}, {2}, flags {3} ({4}), config {5}, domain '{6}', image at {7}",
            savefile, Format, ByteOrder, MandatoryFlags, MandatoryFlagNames, ConfigFormat, DomainName, ImageOffset);
        return Task.CompletedTask;
    }
}
