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
        try
        {
            return JsonSerializer.Deserialize(SmallFile.ReadAllBytes(marker, 64 * 1024), DomainRecordJson.Default.EmbeddedMachine)
                ?? throw new JsonException("null");
        }
        catch (Exception e) when (e is JsonException or IOException or UnauthorizedAccessException)
        {
            throw new XenHostException(XenHostError.Unavailable, $"embedded host marker {marker} is unreadable: {e.Message}", e);
        }
    }
}
