using XenIac.Core.IO;
using System.Security.Cryptography;
using System.Text;
using XenIac.Reconciler.Manifests;

namespace XenIac.Reconciler.Reconciling;

/// <summary>
/// The files a manifest's meaning depends on — the manifest itself, and the configs, override configs and store
/// key files it names — with their digest and a cheap fingerprint (length and modification time) that reconcile
/// polls to notice a change. Polling rather than a FileSystemWatcher: editors and <c>git checkout</c> replace files
/// by rename, inotify watches are a limited resource, and a poll of a few stat calls a second costs nothing.
/// </summary>
public static class ManifestFiles
{
    /// <summary>The manifest and every file it names that exists when loaded (savefiles excluded: reconcile writes those).</summary>
    public static IReadOnlyList<string> Of(string manifestPath, Manifest? manifest)
    {
        var files = new SortedSet<string>(StringComparer.Ordinal) { Path.GetFullPath(manifestPath) };
        if (manifest is null) return [.. files];
        foreach (var d in manifest.Domains)
        {
            if (d.ConfigPath is { } c) files.Add(c);
            if (d.OverrideConfigPath is { } o) files.Add(o);
            if (d.Snapshot?.KeyFile is { } k) files.Add(k);
        }
        return [.. files];
    }

    /// <summary>Length and modification time of each file (absent files count too): equal fingerprints, nothing changed.</summary>
    public static string Fingerprint(IReadOnlyList<string> files)
    {
        var text = new StringBuilder();
        foreach (var file in files)
        {
            var info = new FileInfo(file);
            text.Append(file).Append('\0');
            if (info.Exists) text.Append(info.Length).Append('\0').Append(info.LastWriteTimeUtc.Ticks);
            text.Append('\n');
        }
        return text.ToString();
    }

    /// <summary>
    /// <c>sha256:</c> over each file's path and bytes, in path order: the manifest digest of the status file,
    /// changed by an edit of the manifest or of a config it names.
    /// </summary>
    public static string Digest(IReadOnlyList<string> files)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        foreach (var file in files)
        {
            hash.AppendData(Encoding.UTF8.GetBytes(file + "\0"));
            try { hash.AppendData(SmallFile.ReadAllBytes(file)); }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException) { hash.AppendData("\0missing"u8); }
            hash.AppendData("\0"u8);
        }
        return "sha256:" + Convert.ToHexStringLower(hash.GetHashAndReset());
    }
}
