using System.Runtime.InteropServices;

namespace XenIac.Core.IO;

/// <summary>
/// Writes a file so that readers see either the old complete file or the new complete one, never a torn one:
/// a temp file in the same folder (so the rename cannot cross file systems), fsync, rename over the target,
/// fsync the folder. New files are created with mode 0600 because savefiles hold guest memory.
/// </summary>
public static partial class AtomicFile
{
    /// <summary>Prefix of temp files, so a crashed writer's leftovers can be recognised and cleaned.</summary>
    public const string TempPrefix = ".xeniac-tmp-";

    public static async Task WriteAsync(string path, Func<Stream, CancellationToken, Task> write,
        CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        ArgumentNullException.ThrowIfNull(write);

        var full = Path.GetFullPath(path);
        var directory = Path.GetDirectoryName(full) ?? throw new ArgumentException($"'{path}' has no folder.", nameof(path));
        var temp = TempPathFor(full);

        try
        {
            await using (var stream = CreatePrivate(temp))
            {
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
        return new FileStream(path, options);
    }

    /// <summary>A temp path beside <paramref name="path"/> whose name records the writing process.</summary>
    public static string TempPathFor(string path)
    {
        var full = Path.GetFullPath(path);
        return Path.Combine(Path.GetDirectoryName(full)!, $"{TempPrefix}{Path.GetFileName(full)}.{Environment.ProcessId}.{Guid.NewGuid():N}");
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
        var fd = Open(directory, 0x10000 /* O_DIRECTORY */ | 0 /* O_RDONLY */);
        if (fd < 0) return;
        try { _ = Fsync(fd); }
        finally { _ = Close(fd); }
    }

    [LibraryImport("libc", EntryPoint = "open", StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Open(string path, int flags);

    [LibraryImport("libc", EntryPoint = "fsync")]
    private static partial int Fsync(int fd);

    [LibraryImport("libc", EntryPoint = "close")]
    private static partial int Close(int fd);
}
