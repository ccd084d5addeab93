using System.Security.Cryptography;
using System.Text;
using Microsoft.Build.Framework;
using XenIac.Core.SaveFiles;

namespace XenIac.MSBuild;

/// <summary>
/// The fingerprint of what a snapshot is made from: the domain config and the files the project lists
/// (<c>@(XenIacSnapshotInput)</c>: kernel, disk images, provisioning scripts), by content. The snapshot target stores
/// it in the savefile and the restore compares it, so a snapshot made from yesterday's inputs (pulled from a store,
/// copied from another agent, older than a disk image that kept its timestamp) is never silently replayed.
/// Names are taken relative to the project, so every checkout of the same inputs gives the same fingerprint.
/// </summary>
public sealed class XenIacFingerprint : XenIacTask
{
    [Required] public string Config { get; set; } = "";

    /// <summary>More files the snapshot depends on.</summary>
    public ITaskItem[] Inputs { get; set; } = [];

    /// <summary><c>sha256:</c> and 64 hex digits.</summary>
    [Output] public string? Fingerprint { get; set; }

    private protected override async Task ExecuteAsync(CancellationToken cancellationToken)
    {
        Operation = "Fingerprinting the snapshot's inputs";
        var files = new SortedDictionary<string, string>(StringComparer.Ordinal);
        foreach (var path in Inputs.Select(i => i.ItemSpec).Where(s => !string.IsNullOrWhiteSpace(s)).Prepend(Config))
        {
            var full = FullPath(path);
            var name = Path.GetRelativePath(ProjectDirectory, full).Replace('\\', '/');
            if (files.ContainsKey(name)) continue;
            if (!File.Exists(full) && !Directory.Exists(full))
            {
                LogCodedError(Strings.FileAccessFailed, Operation, $"'{full}' does not exist (listed in XenIacSnapshotInput or XenIacDomainConfig)");
                return;
            }
            if (NotAReadableFile(full) is { } notAFile)
            {
                LogCodedError(Strings.FileAccessFailed, Operation, $"{notAFile} (listed in XenIacSnapshotInput or XenIacDomainConfig)");
                return;
            }
            // Streamed: a disk image may be many GiB.
            await using var stream = new FileStream(full, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20, FileOptions.SequentialScan | FileOptions.Asynchronous);
            files[name] = Convert.ToHexStringLower(await SHA256.HashDataAsync(stream, cancellationToken).ConfigureAwait(false));
        }
        Fingerprint = Compute(files);
        Log.LogMessage(MessageImportance.Normal, "XenIac: inputs fingerprint {0} ({1} files)", Fingerprint, files.Count);
    }

    /// <summary>One line per file, sorted by name: "name TAB sha256-hex"; the fingerprint is the SHA-256 of that text.</summary>
    internal static string Compute(IReadOnlyDictionary<string, string> digestsByName)
    {
        var text = new StringBuilder("xeniac-inputs v1\n");
        foreach (var (name, digest) in digestsByName.OrderBy(kv => kv.Key, StringComparer.Ordinal)) text.Append(name).Append('\t').Append(digest).Append('\n');
        return SaveFileHeader.FingerprintPrefix + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text.ToString())));
    }
}
