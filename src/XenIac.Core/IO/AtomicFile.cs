using System.Runtime.InteropServices;

namespace XenIac.Core.IO;

/// <summary>
/// Writes a file so that readers see either the old complete file or the new complete one, never a torn one:
/// a temp file in the same folder (so the rename cannot cross file systems), fsync, rename over the target,
/// fsync the folder. New files are created with mode 0600 because savefiles hold guest memory.
/// Only regular files are replaced: a symbolic link is refused rather than replaced by a file (which would break
/// the link) or written through (which would not be atomic), and so are devices, pipes, sockets and folders.
/// The target's folder must exist; it is never created here, so a typo in a path does not grow a folder tree.
/// </summary>
public static partial class AtomicFile
{
    /// <summary>Prefix of temp files, so a crashed writer's leftovers can be recognised and cleaned.</summary>
    public const string TempPrefix = ".xeniac-tmp-";

    public static Task WriteAsync(string path, Func<Stream, CancellationToken, Task> write,
        CancellationToken cancellationToken = default) => WriteAsync(path, write, large: false, cancellationToken);

    /// <summary>
    /// <see cref="WriteAsync(string, Func{Stream, CancellationToken, Task}, CancellationToken)"/> for a big file written
    /// front to back (a savefile): where the file system allows it the bytes go to the disk from aligned blocks
    /// around the page cache, on a thread of their own, while <paramref name="write"/> produces the next ones
    /// (filling fresh cache pages cost more CPU than the disk took on the machines measured). The stream may still
    /// be seeked (an integrity record patched after the image); from then on it writes the ordinary way.
    /// </summary>
    public static Task WriteLargeAsync(string path, Func<Stream, CancellationToken, Task> write,
        CancellationToken cancellationToken = default) => WriteAsync(path, write, large: true, cancellationToken);

    private static async Task WriteAsync(string path, Func<Stream, CancellationToken, Task> write, bool large,
        CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        ArgumentNullException.ThrowIfNull(write);

        var full = Path.GetFullPath(path);
        var directory = CheckTarget(path);
        // A big file's temp left by a killed writer (an apply killed mid-transfer) holds up to a guest's memory; the
        // next write into the folder removes those whose writer is gone, whoever writes there.
        if (large) CleanStaleTempFiles(directory);
        var temp = TempPathFor(full);

        try
        {
            FileStream created;
            try { created = CreatePrivate(temp); }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // The temp file's name means nothing to the user; the folder they chose does.
                throw new IOException($"cannot write '{path}': cannot create a file in '{directory}' ({e.Message})", e);
            }
            await using (var stream = created)
            {
                if (large && DirectWriteStream.TryOver(stream) is { } direct)
                {
                    // Disposing it puts the last bytes into the file and leaves the file stream at the end, for the sync below.
                    await using (direct.ConfigureAwait(false))
                        await write(direct, cancellationToken).ConfigureAwait(false);
                }
                else
                    await write(stream, cancellationToken).ConfigureAwait(false);
                cancellationToken.ThrowIfCancellationRequested();
                await stream.FlushAsync(cancellationToken).ConfigureAwait(false);
                stream.Flush(flushToDisk: true);
            }
            File.Move(temp, full, overwrite: true);
            FsyncDirectory(directory);
        }
        catch
        {
            TryDelete(temp);
            throw;
        }
        finally
        {
            Forget(temp);
        }
    }

    /// <summary>
    /// Checks that <paramref name="path"/> can be replaced atomically: its folder exists, and it is absent or a
    /// regular file. Callers check before work that cannot be undone (stopping a domain). Returns the folder.
    /// </summary>
    /// <exception cref="IOException">The message names <paramref name="path"/> and what is wrong with it.</exception>
    public static string CheckTarget(string path) => CheckTarget(path, out _);

    /// <summary><see cref="CheckTarget(string)"/>, saying whether a regular file is there (one statx for both).</summary>
    private static string CheckTarget(string path, out bool exists)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        var full = Path.GetFullPath(path);
        var directory = Path.GetDirectoryName(full);
        if (directory is null || Path.EndsInDirectorySeparator(path))
            throw new IOException($"'{path}' is a folder; give a file name");
        var type = TypeOf(full);
        exists = type == EntryType.Regular;
        switch (type)
        {
            case EntryType.Missing:
                if (File.Exists(directory))
                    throw new IOException($"cannot write '{path}': '{directory}' is a file, not a folder");
                if (!Directory.Exists(directory))
                    throw new IOException($"cannot write '{path}': the folder '{directory}' does not exist (create it first; XenIac does not create folders for output files)");
                break;
            case EntryType.Regular:
                break;
            case EntryType.Directory:
                throw new IOException($"'{path}' is a folder; give a file name");
            case EntryType.SymbolicLink:
                throw new IOException($"'{path}' is a symbolic link; XenIac replaces files atomically and does not replace links: " +
                                      $"give the file it points to ({new FileInfo(full).LinkTarget}), or '-' for standard output where the command takes it");
            default:
                throw new IOException($"'{path}' is not a regular file (a device, pipe or socket); XenIac writes files by atomic rename " +
                                      "(use '-' for standard output where the command takes it)");
        }
        return directory;
    }

    /// <summary>
    /// <see cref="CheckTarget"/> for a command that writes a file of its own <paramref name="kind"/> (a saved plan, a
    /// status file): a non-empty file already there is replaced only when <paramref name="isKind"/> says it is one. A
    /// typo or a swapped argument (<c>plan -out web.xlsave</c>, <c>--status xen-iac.yaml</c>) replaced the savefile or
    /// the manifest with JSON and said it succeeded.
    /// </summary>
    /// <exception cref="IOException">The message names <paramref name="path"/> and what is wrong with it.</exception>
    public static string CheckTargetOfKind(string path, string kind, Func<string, bool> isKind)
    {
        ArgumentNullException.ThrowIfNull(isKind);
        var directory = CheckTarget(path, out var exists);
        var full = Path.GetFullPath(path);
        if (exists && new FileInfo(full).Length > 0 && !isKind(full))
            throw new IOException($"'{path}' exists and is not a {kind}; it is not replaced (name a new file, or remove this one first)");
        return directory;
    }

    /// <summary>
    /// Whether <paramref name="path"/> is a regular file, following a symbolic link (a device such as /dev/null, a
    /// pipe, a socket or a folder is not): for readers that must not take a stream of unknown length for a file.
    /// </summary>
    public static bool IsRegularFile(string path) => TypeFollowingLinks(path) == EntryType.Regular;

    /// <summary>
    /// Whether <paramref name="path"/> (following a symbolic link) has an end that reading reaches: a regular file or
    /// a block device (a savefile kept on a raw volume). A character device (/dev/zero, /dev/urandom, a terminal), a
    /// pipe or a socket may never end, so a command that would copy it whole must not take it.
    /// </summary>
    public static bool HasEnd(string path) => TypeFollowingLinks(path) is EntryType.Regular or EntryType.BlockDevice;

    private static EntryType TypeFollowingLinks(string path)
    {
        var full = Path.GetFullPath(path);
        var type = TypeOf(full);
        if (type != EntryType.SymbolicLink) return type;
        // A link that loops is no file of any kind: callers ask whether they may read it, and it must not throw there
        // (one such link in import's folder ended the whole import).
        try { return new FileInfo(full).ResolveLinkTarget(returnFinalTarget: true) is { } target ? TypeOf(target.FullName) : type; }
        catch (IOException) { return EntryType.Other; }
    }

    private enum EntryType { Missing, Regular, Directory, SymbolicLink, BlockDevice, Other }

    private static EntryType TypeOf(string full)
    {
        if (OperatingSystem.IsLinux())
        {
            var type = Libc.FileType(Libc.CurrentDirectory, full, Libc.NoFollow);
            if (type != 0)
            {
                return type switch
                {
                    Libc.TypeRegular => EntryType.Regular,
                    Libc.TypeFolder => EntryType.Directory,
                    Libc.TypeLink => EntryType.SymbolicLink,
                    Libc.TypeBlockDevice => EntryType.BlockDevice,
                    _ => EntryType.Other,
                };
            }
            // ENOENT, or statx unavailable: fall through to what .NET can tell.
        }
        var info = new FileInfo(full);
        if (info.LinkTarget is not null) return EntryType.SymbolicLink;
        if (Directory.Exists(full)) return EntryType.Directory;
        return info.Exists ? EntryType.Regular : EntryType.Missing;
    }

    /// <summary>Creates a new file readable and writable by its owner only.</summary>
    public static FileStream CreatePrivate(string path) => CreatePrivate(path, FileMode.CreateNew);

    /// <summary>Creates or truncates a private (0600) scratch file, e.g. a leftover from a killed process.</summary>
    public static FileStream CreatePrivateOverwrite(string path) => CreatePrivate(path, FileMode.Create);

    private static FileStream CreatePrivate(string path, FileMode mode)
    {
        var options = new FileStreamOptions
        {
            Mode = mode,
            Access = FileAccess.Write,
            Share = FileShare.None,
            BufferSize = 64 * 1024,
        };
        if (!OperatingSystem.IsWindows())
            options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        return new WritebackFileStream(path, options);
    }

    /// <summary>
    /// A temp path beside <paramref name="path"/> whose name records the writing process. It is remembered until the
    /// process ends, so that <see cref="DeleteTempFilesOfThisProcess"/> can remove it if the process must end at once.
    /// </summary>
    public static string TempPathFor(string path)
    {
        var full = Path.GetFullPath(path);
        var temp = Path.Combine(Path.GetDirectoryName(full)!, $"{TempPrefix}{NamePart(Path.GetFileName(full))}.{Environment.ProcessId}.{Guid.NewGuid():N}");
        Remember(temp);
        return temp;
    }

    /// <summary>
    /// The file a temp path of <see cref="TempPathFor"/> stands for, as far as its name tells (a name cut to fit ends
    /// in "…"); null for any other path. Messages about a failed write name the temp file, which means nothing to the
    /// user.
    /// </summary>
    public static string? TargetOfTemp(string path)
    {
        var m = TempName().Match(path);
        if (!m.Success) return null;
        var name = m.Groups["name"].Value;
        // Within a character of the limit: the name may have been cut (a name of exactly that length reads the same).
        var cut = System.Text.Encoding.UTF8.GetByteCount(name) > NameBytes - 4;
        return m.Groups["dir"].Value + name + (cut ? "…" : "");
    }

    // TempPrefix starts with a dot, the one character of it a pattern must escape.
    [System.Text.RegularExpressions.GeneratedRegex(@"^(?<dir>.*/)?\" + TempPrefix + @"(?<name>.+)\.\d+\.[0-9a-f]{32}$")]
    private static partial System.Text.RegularExpressions.Regex TempName();

    private const int NameBytes = 160;

    /// <summary>
    /// The target's name as the temp name carries it: whole, or its first 160 UTF-8 bytes. A file system names a file in
    /// at most 255 bytes; the prefix, process id and GUID take about 55, so a legal name of over 200 bytes made a
    /// temp name no file could have ("the path is too long"), and the write failed.
    /// </summary>
    private static string NamePart(string name)
    {
        const int MaxBytes = NameBytes;
        if (System.Text.Encoding.UTF8.GetByteCount(name) <= MaxBytes) return name;
        var bytes = 0;
        var end = 0;
        foreach (var rune in name.EnumerateRunes())
        {
            if (bytes + rune.Utf8SequenceLength > MaxBytes) break;
            bytes += rune.Utf8SequenceLength;
            end += rune.Utf16SequenceLength;
        }
        return name[..end];
    }

    // Every temp path this process named. Names are unique (a GUID each), so deleting one that was since renamed
    // into place or removed finds nothing and harms nothing. The set is pruned of such paths as it grows, since a
    // long-running process (the reconcile loop, serve) names temp files for as long as it runs.
    private static readonly HashSet<string> s_temps = new(StringComparer.Ordinal);
    private static int s_pruneAt = 256;

    private static void Remember(string temp)
    {
        lock (s_temps)
        {
            s_temps.Add(temp);
            if (s_temps.Count < s_pruneAt) return;
            s_temps.RemoveWhere(t => !File.Exists(t));
            s_pruneAt = Math.Max(256, 2 * s_temps.Count);
        }
    }

    private static void Forget(string temp)
    {
        lock (s_temps) s_temps.Remove(temp);
    }

    /// <summary>
    /// Deletes the temp files this process named and that still exist: for a process that must end now (a second
    /// Ctrl+C) without the cleanup its cancelled work would have done, which would otherwise leave a partial savefile
    /// of many GiB beside its target until a later writer of the same folder happens to clean it. Returns how many.
    /// </summary>
    public static int DeleteTempFilesOfThisProcess() => DeleteTempFilesOfThisProcess(folder: null);

    /// <summary>Only those in <paramref name="folder"/> when given: tests share one process and run side by side.</summary>
    internal static int DeleteTempFilesOfThisProcess(string? folder)
    {
        string[] temps;
        lock (s_temps) temps = [.. s_temps];
        var removed = 0;
        foreach (var temp in temps)
            if ((folder is null || Path.GetDirectoryName(temp) == Path.GetFullPath(folder)) && File.Exists(temp) && TryDelete(temp)) removed++;
        return removed;
    }

    /// <summary>
    /// Removes temp files that killed writers left in <paramref name="directory"/>: those whose recorded process
    /// no longer runs. Files of live writers (another process saving right now) are left alone.
    /// </summary>
    public static int CleanStaleTempFiles(string directory)
    {
        if (!Directory.Exists(directory)) return 0;
        var removed = 0;
        foreach (var file in Directory.EnumerateFiles(directory, TempPrefix + "*"))
        {
            var parts = Path.GetFileName(file).Split('.');
            if (parts.Length < 3 || !int.TryParse(parts[^2], out var pid) || IsAlive(pid)) continue;
            if (TryDelete(file)) removed++;
        }
        return removed;
    }

    private static bool IsAlive(int pid)
    {
        if (pid == Environment.ProcessId) return true;
        if (OperatingSystem.IsLinux()) return Directory.Exists($"/proc/{pid}");
        try
        {
            using var p = System.Diagnostics.Process.GetProcessById(pid);
            return !p.HasExited;
        }
        catch (ArgumentException) { return false; }
        catch (InvalidOperationException) { return false; }
    }

    private static bool TryDelete(string path)
    {
        try { File.Delete(path); return true; }
        catch (IOException) { return false; }
        catch (UnauthorizedAccessException) { return false; }
    }

    // The rename is only durable once the folder entry is on disk; .NET has no API to fsync a folder.
    private static void FsyncDirectory(string directory)
    {
        if (!OperatingSystem.IsLinux()) return;
        var fd = Libc.Open(directory, Libc.Directory | Libc.ReadOnly | Libc.CloseOnExec);
        if (fd < 0) return;
        try { _ = Libc.Fsync(fd); }
        finally { _ = Libc.Close(fd); }
    }
}
