using System.Text.Json;
using XenIac.Core.SaveFiles;
using XenIac.Core.Streams;

namespace XenIac.Core.Config;

/// <summary>
/// Verifies a savefile's image against what its stored config states. Lives above the savefile codec because
/// reading the config is the config language's business: the image alone cannot tell PVH from HVM.
/// </summary>
public static class SaveFileVerification
{
    /// <summary>
    /// <see cref="SaveFileReader.VerifyImage"/>, with the guest type the stored config states as the expected one
    /// unless <paramref name="options"/> already names one.
    /// </summary>
    public static ImageVerification Verify(SaveFileReader saveFile, ImageVerifierOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(saveFile);
        options ??= ImageVerifierOptions.Default;
        if (options.ConfiguredGuestType is null && StatedGuestType(saveFile.Header) is { } stated)
            options = options with { ConfiguredGuestType = stated };
        return saveFile.VerifyImage(options);
    }

    /// <summary>
    /// The guest type the stored config states (libxl JSON c_info.type; xl.cfg type=, or builder= as xl reads it),
    /// or null when it states none or cannot be read: a bad config is the header check's finding, not the image's.
    /// </summary>
    internal static GuestType? StatedGuestType(SaveFileHeader header)
    {
        var text = header.ConfigText;
        if (string.IsNullOrEmpty(text)) return null;
        return header.ConfigFormat == SaveFileConfigFormat.Json ? JsonType(text) : XlType(text);
    }

    private static GuestType? XlType(string text)
    {
        try
        {
            var xl = XlConfig.Parse(text);
            if (xl.GetString("type") is { } type) return Known(DomainConfig.GuestTypeNamed(type));
            return xl.GetString("builder") switch { "hvm" => GuestType.HVM, "generic" => GuestType.PV, _ => null };
        }
        catch (XlConfigException)
        {
            return null;
        }
    }

    private static GuestType? JsonType(string text)
    {
        try
        {
            using var doc = JsonDocument.Parse(text);
            return doc.RootElement.ValueKind == JsonValueKind.Object &&
                   doc.RootElement.TryGetProperty("c_info", out var cInfo) && cInfo.ValueKind == JsonValueKind.Object &&
                   cInfo.TryGetProperty("type", out var t) && t.ValueKind == JsonValueKind.String
                ? Known(DomainConfig.GuestTypeNamed(t.GetString()!))
                : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    private static GuestType? Known(GuestType type) => type == GuestType.Unknown ? null : type;
}
