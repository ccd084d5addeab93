using System.Text;
using XenIac.Core.SaveFiles;

namespace XenIac.MSBuild.Tests;

/// <summary>Writes small but valid savefiles with Core's writer.</summary>
public static class SavefileMaker
{
    public const string JsonConfig = """{"c_info":{"type":"pvh","name":"json-vm"},"b_info":{"max_memkb":16384}}""";

    public static string Write(string path, string? config, SaveFileConfigFormat format,
        SaveFileByteOrder order = SaveFileByteOrder.LittleEndian, bool streamV2 = true)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        var header = SaveFileHeader.Create(config, format, order, streamV2);
        using var file = File.Create(path);
        // A real image stream (two pages): a restore that replaces a running domain reads the image through first.
        var image = new MemoryStream();
        XenIac.Core.Streams.ImageStreamWriter.Write(image, new XenIac.Core.Streams.DomainImageDescription { GuestType = XenIac.Core.Streams.GuestType.HVM, PageCount = 2 });
        image.Position = 0;
        SaveFileWriter.WriteAsync(file, header, image).GetAwaiter().GetResult();
        return path;
    }
}
