using XenIac.Core.Config;
using System.Text.Json;
using System.Text.Json.Serialization;
using XenIac.Core.IO;
using XenIac.Core.SaveFiles;

namespace XenIac.Hosts.Embedded;

/// <summary>What the embedded host keeps about one domain, as JSON in its folder (written atomically).</summary>
internal sealed record DomainRecord
{
    public required string Name { get; init; }
    public required uint DomId { get; init; }
    public required DomainState State { get; init; }
    public required string GuestType { get; init; }
    public required long MemoryKiB { get; init; }
    public required int VCpus { get; init; }
    /// <summary>The config as libxl JSON, as xl remembers it for a domain.</summary>
    public required string ConfigJson { get; init; }
    /// <summary>What the generated memory derives from: the name the domain was first created with.</summary>
    public required string MemorySeed { get; init; }
    /// <summary>For a clone: the shared base memory it reads unwritten pages from (<c>bases/ID/</c>); null for any other domain.</summary>
    /// <remarks>Left out of the JSON when null, so the records of other domains read as they always did.</remarks>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? BaseMemory { get; init; }
    public DateTimeOffset CreatedUtc { get; init; } = DateTimeOffset.UtcNow;
    /// <summary>
    /// The memory lives in <c>memory.img</c> (restored, or written by <c>WriteMemoryAsync</c>), so a missing file is
    /// damage. Without it, a restored domain whose file was removed outside XenIac was silently given generated memory
    /// again, and its next save wrote that as the guest's. Absent from older records: their missing file still reads
    /// as generated memory, as it did.
    /// </summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)]
    public bool MemoryFile { get; init; }

    public long Pages => MemoryKiB / 4;

    public DomainInfo ToInfo() => new(Name, DomId, State, MemoryKiB, VCpus);

    public ConfigText Config => new(ConfigJson, SaveFileConfigFormat.Json);

    /// <summary>
    /// The most a record may take on disk, checked when it is written and when it is read. A config within the
    /// config limit can grow several times over as libxl JSON inside this JSON (every quote and control character
    /// escaped twice); a record the host could write but not read back would leave the domain beyond reach, destroy
    /// included. So the write refuses, before anything of the domain is registered.
    /// </summary>
    public const int SizeLimit = 4 * SmallFile.DefaultLimit;

    public static DomainRecord? Load(string path)
    {
        try
        {
            // Bytes, not text: the JSON reader takes UTF-8 as it is on disk (a plan reads every record, twice: once to
            // list the domains, once for the host's free memory).
            // "null" deserializes to no record; read as "no such domain", it made the domain vanish from list and let
            // create of the same name delete its memory. It is a damaged record like any other.
            var record = JsonSerializer.Deserialize(SmallFile.ReadAllBytes(path, SizeLimit), DomainRecordJson.Default.DomainRecord)
                ?? throw new XenHostException(XenHostError.OperationFailed, $"embedded host record {path} is corrupt: it holds null, not a record");
            // The sizes every writer checked (EmbeddedConfig): a record edited past them made a save overflow, or
            // generate terabytes of memory, instead of saying the record is wrong.
            if (record.MemoryKiB is < 1024 or > EmbeddedConfig.MaxMemoryMiB * 1024 || record.MemoryKiB % 4 != 0)
                throw new XenHostException(XenHostError.OperationFailed,
                    $"embedded host record {path} is corrupt: memoryKiB {record.MemoryKiB} is not whole pages from 1 MiB to {EmbeddedConfig.MaxMemoryMiB} MiB");
            if (record.VCpus is < 1 or > EmbeddedConfig.MaxVcpus)
                throw new XenHostException(XenHostError.OperationFailed,
                    $"embedded host record {path} is corrupt: vCPUs {record.VCpus} is not from 1 to {EmbeddedConfig.MaxVcpus}");
            return record;
        }
        catch (FileNotFoundException) { return null; }
        catch (DirectoryNotFoundException) { return null; }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // .NET says "Access to the path … is denied" of a folder it was asked to read as a file.
            throw new XenHostException(XenHostError.OperationFailed, Directory.Exists(path)
                ? $"embedded host record {path} is corrupt: it is a folder, not a file"
                : $"cannot read embedded host record {path}: {e.Message}", e);
        }
        catch (JsonException e)
        {
            throw new XenHostException(XenHostError.OperationFailed, $"embedded host record {path} is corrupt: {JsonProblems.Describe(e)}", e);
        }
    }

    /// <summary>The record as written to disk.</summary>
    /// <exception cref="XenHostException">It would exceed <see cref="SizeLimit"/> (InvalidConfig: the config is too big for this host).</exception>
    public byte[] Serialize()
    {
        var bytes = JsonSerializer.SerializeToUtf8Bytes(this, DomainRecordJson.Default.DomainRecord);
        if (bytes.Length > SizeLimit)
            throw new XenHostException(XenHostError.InvalidConfig,
                $"the config of '{Name}' is too big for the embedded host: its record would take {bytes.Length:N0} bytes (limit {SizeLimit:N0})");
        return bytes;
    }

    public Task SaveAsync(string path, CancellationToken cancellationToken) => Write(path, Serialize(), cancellationToken);

    public static Task Write(string path, byte[] serialized, CancellationToken cancellationToken) =>
        AtomicFile.WriteAsync(path, (s, ct) => s.WriteAsync(serialized, ct).AsTask(), cancellationToken);
}
