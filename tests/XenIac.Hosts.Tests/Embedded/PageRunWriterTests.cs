using XenIac.Hosts.Embedded;

namespace XenIac.Hosts.Tests.Embedded;

public sealed class PageRunWriterTests
{
    [Theory]
    [InlineData(0, true)]
    [InlineData(1, true)]
    [InlineData(7, true)]
    [InlineData(0, false)]
    [InlineData(7, false)]
    public void Pages_in_any_order_with_gaps_and_rewrites_land_where_one_write_per_page_puts_them(int seed, bool direct)
    {
        var random = new Random(seed);
        const int pages = 9000; // more than two runs' buffers (1024 pages each): blocks are reused while writes are queued
        var order = new List<int>();
        for (var start = 0; start < pages;)
        {
            var length = random.Next(1, 1500);
            if (random.Next(4) > 0) order.AddRange(Enumerable.Range(start, Math.Min(length, pages - start)));
            start += length;
        }
        order.AddRange(Enumerable.Range(0, 40).Select(_ => random.Next(pages))); // rewrites, out of order
        var expected = new byte[pages * GuestMemory.PageSize];
        var path = Path.GetTempFileName();
        try
        {
            using (var file = new FileStream(path, FileMode.Create, FileAccess.ReadWrite))
            using (var writer = new PageRunWriter(file, direct))
            {
                var page = new byte[GuestMemory.PageSize];
                foreach (var pfn in order)
                {
                    random.NextBytes(page);
                    page.CopyTo(expected, pfn * GuestMemory.PageSize);
                    writer.Write((ulong)pfn, page);
                }
                writer.Flush();
            }
            var actual = File.ReadAllBytes(path);
            Array.Resize(ref actual, expected.Length);
            Assert.True(expected.AsSpan().SequenceEqual(actual));
        }
        finally
        {
            File.Delete(path);
        }
    }
}
