using System.Text.Json;
using XenIac.Core.IO;

namespace XenIac.Hosts.Embedded;

/// <summary>What an embedded host folder's marker file may say about the machine it plays (all optional).</summary>
internal sealed record EmbeddedMachine
{
    /// <summary>The Xen whose savefiles the embedded host writes (libxl 4.17's JSON, stream v2).</summary>
    public const string DefaultXenVersion = "4.17.0";

    public string? Kind { get; init; }
    public int Version { get; init; }
    public string? XenVersion { get; init; }
    public string? CpuVendor { get; init; }
    public long? MemoryMiB { get; init; }

    /// <exception cref="XenHostException">Unavailable: the marker is not JSON of this shape.</exception>
    public static EmbeddedMachine Read(string marker)
    {
        EmbeddedMachine machine;
        try
        {
            machine = JsonSerializer.Deserialize(SmallFile.ReadAllBytes(marker, 64 * 1024), DomainRecordJson.Default.EmbeddedMachine)
                ?? throw new JsonException("null");
        }
        catch (Exception e) when (e is JsonException or IOException or UnauthorizedAccessException)
        {
            throw new XenHostException(XenHostError.Unavailable, $"embedded host marker {marker} is unreadable: {e.Message}", e);
        }
        // What the marker says is shown to users and compared by placement: plain short text and a real size only.
        if (machine.XenVersion is { } version && !IsPlainText(version, 64))
            throw new XenHostException(XenHostError.Unavailable, $"embedded host marker {marker}: xenVersion must be 1 to 64 printable characters (like 4.17.0)");
        if (machine.CpuVendor is { } vendor && !IsPlainText(vendor, 12))
            throw new XenHostException(XenHostError.Unavailable, $"embedded host marker {marker}: cpuVendor must be 1 to 12 printable characters (like GenuineIntel)");
        if (machine.MemoryMiB is <= 0 or > 1L << 40)
            throw new XenHostException(XenHostError.Unavailable, $"embedded host marker {marker}: memoryMiB must be a positive number of MiB");
        return machine;
    }

    private static bool IsPlainText(string text, int maxLength) =>
        text.Length is > 0 and var n && n <= maxLength && text.All(c => c is > ' ' and <= '~');
}
